/**
 * The scheduler of one simulated node, after Ollama's `server/sched.go` and llama-server: parallel slots per
 * loaded model, FIFO wait beyond them, a bounded wait queue, one model load at a time, LRU eviction under a
 * memory budget, and `keep_alive` expiry. As in Ollama, a runner belongs to a weights file, not a name: two tags
 * of one model (`llama3.2`, `llama3.2:3b`), and a model `/api/create` made from another, share one loaded runner.
 * State lives in this closure and only changes inside synchronous sections, so every step is atomic; waiting and
 * timers are Effect fibers (TestClock drives them).
 */
import { Clock, Data, Deferred, Duration, Effect, Exit, FiberSet } from "effect"
import type { SimModelSpec, SimProfile } from "./profiles.js"

/** The wait queue is full (Ollama's 503 "server busy"). */
export class EngineBusy extends Data.TaggedError("EngineBusy")<{}> {}

/** What the engine did, in order, for tests and tools that check scheduling laws. */
export type SimTraceEvent =
  | { readonly type: "start"; readonly seq: number; readonly model: string; readonly slot: number; readonly atMs: number }
  | { readonly type: "finish"; readonly seq: number; readonly model: string; readonly slot: number; readonly atMs: number }
  | { readonly type: "reject"; readonly seq: number; readonly model: string; readonly atMs: number }
  | { readonly type: "load"; readonly model: string; readonly atMs: number }
  | { readonly type: "unload"; readonly model: string; readonly reason: "evicted" | "expired" | "deleted" | "crashed"; readonly atMs: number }

/** A held slot. `seq` numbers requests in arrival order. */
export interface Lease {
  readonly seq: number
  /** The name the request asked for. */
  readonly model: string
  /** The runner's key: the model's weights file (`runnerOf`). */
  readonly runner: string
  readonly slot: number
  /** Characters of the prompt already in this slot's prompt cache. */
  readonly cachedChars: number
  /** The model was not resident when the request arrived: its wait includes the load. */
  readonly cold: boolean
}

export interface ResidentInfo {
  /** The model as it was first asked for when it loaded (the name `/api/ps` shows). */
  readonly spec: SimModelSpec
  readonly busy: number
  /** Clock ms at which it unloads if still idle; `undefined` while busy, `Infinity` for keep_alive < 0. */
  readonly expiresAtMs: number | undefined
}

export interface EngineCounters {
  readonly loads: number
  readonly evictions: number
  readonly unloads: number
  readonly rejected: number
  /** Requests holding a slot now, and the most ever at once. */
  readonly running: number
  readonly maxRunning: number
}

interface Slot {
  busy: boolean
  cached: string
}

interface Resident {
  readonly spec: SimModelSpec
  readonly slots: Array<Slot>
  busy: number
  lastUsed: number
  keepAliveMs: number
  expiryGen: number
  expiresAtMs: number | undefined
  doomed: boolean
}

interface Waiter {
  readonly seq: number
  readonly spec: SimModelSpec
  readonly prompt: string
  readonly keepAliveMs: number
  readonly deferred: Deferred.Deferred<Lease>
  cold: boolean
  lease: Lease | undefined
}

/** Runners are keyed by weights file, as Ollama's scheduler keys them by model path. */
export const runnerOf = (spec: SimModelSpec): string => spec.weights ?? spec.digest

const commonPrefix = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

export const makeEngine = Effect.fn("SimEngine.make")(function*(options: {
  readonly profile: SimProfile
  readonly timeScale: number
  /** Current multiplier of simulated durations (a `slow` fault), read at every wait. */
  readonly slowFactor: () => number
  readonly trace: ((event: SimTraceEvent) => void) | undefined
}) {
  const { profile, timeScale } = options
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  const residents = new Map<string, Resident>()
  const queue: Array<Waiter> = []
  const counters = { loads: 0, evictions: 0, unloads: 0, rejected: 0, running: 0, maxRunning: 0 }
  let loading: SimModelSpec | undefined
  let seq = 0
  let decoders = 0
  const trace = options.trace ?? (() => {})

  const sleepSim = (simMs: number) =>
    Effect.suspend(() => Effect.sleep(Duration.millis(Math.max(0, (simMs * options.slowFactor()) / timeScale))))

  /**
   * Sleeps until `simMs` of simulated time (already slowed by any fault) after the clock read `fromMs`. Work paced
   * by deadlines keeps its rate when each step is shorter than a timer can sleep (a fast GPU's token at a large
   * time scale): late steps simply follow at once.
   */
  const sleepUntilSim = (fromMs: number, simMs: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const wait = fromMs + simMs / timeScale - now
      return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
    })
  const withNow = <A>(f: (now: number) => A) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => f(now)))

  const unload = (r: Resident, reason: "evicted" | "expired" | "deleted" | "crashed", now: number) => {
    residents.delete(runnerOf(r.spec))
    if (reason === "evicted") counters.evictions++
    else counters.unloads++
    trace({ type: "unload", model: r.spec.name, reason, atMs: now })
  }

  /** Evicts idle models, least recently used first, until `needMb` fits; false when it cannot. */
  const makeRoom = (needMb: number, now: number): boolean => {
    let used = 0
    for (const r of residents.values()) used += r.spec.vramMb
    while (used + needMb > profile.vramBudgetMb && residents.size > 0) {
      let lru: Resident | undefined
      for (const r of residents.values()) if (r.busy === 0 && (lru === undefined || r.lastUsed < lru.lastUsed)) lru = r
      if (lru === undefined) return false
      unload(lru, "evicted", now)
      used -= lru.spec.vramMb
    }
    return true
  }

  const scheduleExpiry = (r: Resident, now: number) => {
    const gen = ++r.expiryGen
    if (r.keepAliveMs === 0 || r.doomed) return unload(r, r.doomed ? "deleted" : "expired", now)
    if (r.keepAliveMs < 0) return void (r.expiresAtMs = Infinity)
    const realMs = r.keepAliveMs / timeScale
    r.expiresAtMs = now + realMs
    run(Effect.zipRight(Effect.sleep(Duration.millis(realMs)), withNow((at) => {
      if (residents.get(runnerOf(r.spec)) !== r || r.expiryGen !== gen || r.busy > 0) return
      unload(r, "expired", at)
      pump(at)
    })))
  }

  const newResident = (spec: SimModelSpec, keepAliveMs: number, now: number): Resident => ({
    spec,
    slots: Array.from({ length: spec.kind === "embedding" ? 1 : profile.slots }, () => ({ busy: false, cached: "" })),
    busy: 0,
    lastUsed: now,
    keepAliveMs,
    expiryGen: 0,
    expiresAtMs: undefined,
    doomed: false
  })

  const startLoad = (w: Waiter) => {
    loading = w.spec
    counters.loads++
    run(Effect.zipRight(sleepSim(w.spec.loadMs), withNow((now) => {
      loading = undefined
      const r = newResident(w.spec, w.keepAliveMs, now)
      residents.set(runnerOf(w.spec), r)
      trace({ type: "load", model: w.spec.name, atMs: now })
      pump(now)
      if (r.busy === 0 && residents.get(runnerOf(w.spec)) === r) scheduleExpiry(r, now)
    })))
  }

  /** Grants free slots to waiters in arrival order; a runner's later waiters never pass its earlier ones. */
  const pump = (now: number) => {
    const blocked = new Set<string>()
    for (let i = 0; i < queue.length; i++) {
      const w = queue[i]!
      const runner = runnerOf(w.spec)
      const r = residents.get(runner)
      // Every request that waits while its model loads has the load in its wait, not only the one that started it.
      if (r === undefined) w.cold = true
      if (blocked.has(runner)) continue
      if (r === undefined) {
        blocked.add(runner)
        if (loading === undefined && makeRoom(w.spec.vramMb, now)) startLoad(w)
        continue
      }
      // llama-server picks the free slot whose cached prompt shares the longest prefix.
      let best = -1
      let bestLen = -1
      r.slots.forEach((s, idx) => {
        if (s.busy) return
        const len = commonPrefix(s.cached, w.prompt)
        if (len > bestLen) [best, bestLen] = [idx, len]
      })
      const slot = r.slots[best]
      if (slot === undefined) {
        blocked.add(runner)
        continue
      }
      slot.busy = true
      r.busy++
      r.expiryGen++
      r.expiresAtMs = undefined
      r.keepAliveMs = w.keepAliveMs
      counters.running++
      counters.maxRunning = Math.max(counters.maxRunning, counters.running)
      w.lease = { seq: w.seq, model: w.spec.name, runner, slot: best, cachedChars: bestLen, cold: w.cold }
      queue.splice(i--, 1)
      trace({ type: "start", seq: w.seq, model: w.spec.name, slot: best, atMs: now })
      Deferred.unsafeDone(w.deferred, Exit.succeed(w.lease))
    }
  }

  const releaseSync = (lease: Lease, cached: string | undefined, now: number) => {
    counters.running--
    trace({ type: "finish", seq: lease.seq, model: lease.model, slot: lease.slot, atMs: now })
    const r = residents.get(lease.runner)
    const slot = r?.slots[lease.slot]
    if (r !== undefined && slot !== undefined) {
      slot.busy = false
      if (cached !== undefined) slot.cached = cached
      r.busy--
      r.lastUsed = now
      if (r.busy === 0) scheduleExpiry(r, now)
    }
    pump(now)
  }

  /** Waits for a slot of `spec` (loading it if needed); fails with `EngineBusy` past the queue bound. */
  const acquire = (spec: SimModelSpec, prompt: string, keepAliveMs: number): Effect.Effect<Lease, EngineBusy> =>
    Effect.flatMap(Deferred.make<Lease>(), (deferred) =>
      Effect.flatten(withNow((now) => {
        const w: Waiter = { seq: seq++, spec, prompt, keepAliveMs, deferred, cold: false, lease: undefined }
        queue.push(w)
        pump(now)
        if (w.lease === undefined && queue.length > profile.maxQueue) {
          queue.splice(queue.indexOf(w), 1)
          counters.rejected++
          trace({ type: "reject", seq: w.seq, model: spec.name, atMs: now })
          return Effect.fail(new EngineBusy())
        }
        return Deferred.await(deferred).pipe(Effect.onInterrupt(() =>
          withNow((at) => {
            if (w.lease !== undefined) return releaseSync(w.lease, undefined, at)
            const idx = queue.indexOf(w)
            if (idx >= 0) queue.splice(idx, 1)
            pump(at)
          })
        ))
      })))

  /** Frees the slot; `cached` (prompt + output) becomes the slot's prompt cache. */
  const release = (lease: Lease, cached?: string) => withNow((now) => releaseSync(lease, cached, now))

  /** Holds a slot around `use` (waiting stays interruptible), releasing it with the cache `use` set on every exit. */
  const withSlot = <A, E, R>(
    spec: SimModelSpec,
    prompt: string,
    keepAliveMs: number,
    use: (lease: Lease, setCache: (text: string) => void) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | EngineBusy, R> =>
    Effect.uninterruptibleMask((restore) => {
      let cached: string | undefined
      return Effect.flatMap(restore(acquire(spec, prompt, keepAliveMs)), (lease) =>
        restore(use(lease, (text) => void (cached = text))).pipe(Effect.ensuring(Effect.suspend(() => release(lease, cached)))))
    })

  return {
    sleepSim,
    sleepUntilSim,
    /** The factor a `slow` fault multiplies simulated durations by now. */
    slowFactor: options.slowFactor,
    acquire,
    release,
    withSlot,
    /** Runs `effect` counted as one decoding stream (for the ×n^-0.25 slowdown). */
    decoding: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(Effect.sync(() => decoders++), () => effect, () => Effect.sync(() => decoders--)),
    decoders: () => decoders,
    /** Makes `spec` resident at once, kept until a request sets another keep_alive (a node started warm). */
    preload: (spec: SimModelSpec) =>
      withNow((now) => {
        if (residents.has(runnerOf(spec)) || !makeRoom(spec.vramMb, now)) return
        const r = newResident(spec, -1, now)
        residents.set(runnerOf(spec), r)
        scheduleExpiry(r, now)
      }),
    /**
     * Unloads `model`'s runner now if idle, else when its last request ends (`keep_alive: 0`, `/api/delete`, a
     * runner that died: the next request loads it again).
     */
    unload: (model: SimModelSpec, reason: "expired" | "deleted" | "crashed") =>
      withNow((now) => {
        const r = residents.get(runnerOf(model))
        if (r === undefined) return
        if (r.busy === 0) {
          unload(r, reason, now)
          pump(now)
        } else if (reason === "deleted") r.doomed = true
        else r.keepAliveMs = 0
      }),
    residents: (): ReadonlyArray<ResidentInfo> =>
      [...residents.values()].map((r) => ({ spec: r.spec, busy: r.busy, expiresAtMs: r.expiresAtMs })),
    counters: (): EngineCounters => ({ ...counters }),
    waiting: () => queue.length
  }
})

export type Engine = Effect.Effect.Success<ReturnType<typeof makeEngine>>
