/**
 * Keeps what the learning store learned across restarts: restored from the SQLite `settings` table at startup, saved
 * every `intervalMs` on Effect's clock and once more when the scope closes (before the store itself closes).
 */
import { Effect, Option } from "effect"
import type { Scope } from "effect"
import { LearningStore } from "./LearningStore.js"
import type { LearningSnapshot } from "./LearningStore.js"
import { Store } from "./Store.js"

/** The `settings` key holding the learning snapshot. */
export const LEARNING_SNAPSHOT_KEY = "learning.snapshot"

export interface PersistenceOptions {
  /** Period of the background save, ms. Default 30 000. */
  readonly intervalMs?: number
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isEwma = (u: unknown) => isRecord(u) && typeof u.value === "number" && typeof u.at === "number"

/**
 * Whether a stored value has the snapshot's shape (version 1; perf entries with node, model and a success average;
 * output estimates; concurrency levels). A value written by another version is ignored rather than half-restored.
 */
export const isLearningSnapshot = (u: unknown): u is LearningSnapshot =>
  isRecord(u) && u.version === 1 &&
  Array.isArray(u.perf) && u.perf.every((e) =>
    isRecord(e) && typeof e.nodeId === "string" && typeof e.model === "string" && isEwma(e.success)
  ) &&
  Array.isArray(u.outputs) && u.outputs.every((o) =>
    isRecord(o) && typeof o.model === "string" && typeof o.taskType === "string" && isEwma(o.tokens)
  ) &&
  Array.isArray(u.levels) && u.levels.every((l) =>
    isRecord(l) && typeof l.nodeId === "string" && typeof l.concurrency === "number" &&
    typeof l.bestTps === "number" && typeof l.n === "number"
  )

/** Writes the current snapshot; a failing write is logged, never fatal (the next save tries again). */
export const saveLearning: Effect.Effect<void, never, Store | LearningStore> = Effect.gen(function*() {
  const store = yield* Store
  const learning = yield* LearningStore
  const snapshot = yield* learning.snapshot
  yield* store.putSetting(LEARNING_SNAPSHOT_KEY, snapshot).pipe(
    Effect.catchTag("StoreError", (e) => Effect.logWarning(`could not save the learning snapshot: ${e.message}`))
  )
})

/** Restores the saved snapshot, if any; returns whether one was restored. */
export const restoreLearning: Effect.Effect<boolean, never, Store | LearningStore> = Effect.gen(function*() {
  const store = yield* Store
  const learning = yield* LearningStore
  const saved = yield* store.getSetting(LEARNING_SNAPSHOT_KEY).pipe(
    Effect.catchTag("StoreError", (e) =>
      Effect.as(Effect.logWarning(`could not read the learning snapshot: ${e.message}`), Option.none()))
  )
  if (Option.isNone(saved)) return false
  if (!isLearningSnapshot(saved.value)) {
    yield* Effect.logWarning("ignoring a stored learning snapshot of an unknown shape")
    return false
  }
  yield* learning.restore(saved.value)
  return true
})

/**
 * 1. Restore the saved snapshot. 2. Fork a fiber saving every `intervalMs` (interrupted with the scope). 3. Register
 * a final save as a finalizer. Acquire the `Store` before this runs, so that the store closes after the final save.
 */
export const persistLearning = (
  options: PersistenceOptions = {}
): Effect.Effect<boolean, never, Store | LearningStore | Scope.Scope> =>
  Effect.gen(function*() {
    const intervalMs = options.intervalMs ?? 30_000
    const restored = yield* restoreLearning
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(intervalMs), saveLearning)))
    yield* Effect.addFinalizer(() => saveLearning)
    return restored
  })
