import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Scope, TestClock } from "effect"
import { NodeId } from "../../src/domain/NodeId.js"
import * as LearningStore from "../../src/runtime/LearningStore.js"
import { isLearningSnapshot, LEARNING_SNAPSHOT_KEY, persistLearning } from "../../src/runtime/persistence.js"
import * as Store from "../../src/runtime/Store.js"

const observe = (nodeId: string, decodeTps: number) =>
  Effect.flatMap(LearningStore.LearningStore, (l) =>
    l.observe({
      nodeId: NodeId(nodeId),
      model: "llama3.2:3b",
      taskType: "generation",
      ok: true,
      concurrency: 1,
      timings: {
        totalNs: 2e9,
        loadNs: 1e6,
        promptEvalCount: 100,
        promptEvalNs: 1e8,
        evalCount: decodeTps,
        evalNs: 1e9
      }
    }))

const savedPerf = Effect.gen(function*() {
  const store = yield* Store.Store
  const saved = yield* store.getSetting(LEARNING_SNAPSHOT_KEY)
  if (Option.isNone(saved) || !isLearningSnapshot(saved.value)) return undefined
  return saved.value.perf.map((e) => e.nodeId).sort()
})

const env = Layer.merge(Store.layer(":memory:"), LearningStore.layer())

describe("learning persistence", () => {
  it.effect("saves every 30 s on Effect's clock, and once more when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const restored = yield* Scope.extend(persistLearning(), scope)
      assert.isFalse(restored)
      yield* observe("a", 40)
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(yield* savedPerf)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* savedPerf, ["a"])
      yield* observe("b", 20)
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* savedPerf, ["a"])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* savedPerf, ["a", "b"])
    }).pipe(Effect.provide(env)))

  it.effect("restores the saved snapshot into a fresh learning store", () =>
    Effect.gen(function*() {
      const store = yield* Store.Store
      const first = yield* LearningStore.make()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* persistLearning()
        yield* observe("gpu", 80)
      }).pipe(Effect.provideService(LearningStore.LearningStore, first)))
      const second = yield* LearningStore.make()
      const restored = yield* Effect.scoped(persistLearning()).pipe(
        Effect.provideService(LearningStore.LearningStore, second)
      )
      assert.isTrue(restored)
      const perf = yield* second.perf(NodeId("gpu"), "llama3.2:3b")
      assert.strictEqual(perf?.samples, 1)
      assert.closeTo(perf?.decodeTps ?? 0, 80, 1e-6)
      assert.isTrue(Option.isSome(yield* store.getSetting(LEARNING_SNAPSHOT_KEY)))
    }).pipe(Effect.provide(Store.layer(":memory:"))))

  it.effect("ignores a stored value of another shape instead of half-restoring it", () =>
    Effect.gen(function*() {
      const store = yield* Store.Store
      yield* store.putSetting(LEARNING_SNAPSHOT_KEY, { version: 1, perf: [{ nodeId: 3 }], outputs: [], levels: [] })
      const restored = yield* Effect.scoped(persistLearning())
      assert.isFalse(restored)
      assert.isFalse(isLearningSnapshot({ version: 2, perf: [], outputs: [], levels: [] }))
      assert.isTrue(isLearningSnapshot({ version: 1, perf: [], outputs: [], levels: [] }))
    }).pipe(Effect.provide(env)))
})
