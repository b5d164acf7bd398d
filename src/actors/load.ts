/**
 * Load accounting for one node (tower's `load` module): requests in flight, and a PeakEWMA of latency on
 * Effect's Clock. In-flight is acquired and released around each request, so no exit path leaks a count. Both are
 * plain fields of the instance, also readable synchronously, since the score step reads them for every node.
 */
import { Clock, Effect } from "effect"

export interface LoadOptions {
  /** Decay time constant of the EWMA in ms. Default 10 000 (tower's default). */
  readonly decayMs?: number
  /** Estimate before any sample, in ms. Default 0 (an unmeasured node looks cheap, so it gets explored). */
  readonly initialMs?: number
}

export interface Load {
  /** Requests currently in flight through `track`. */
  readonly inFlight: Effect.Effect<number>
  /** The PeakEWMA estimate in ms, decayed to now. */
  readonly ewmaMs: Effect.Effect<number>
  /** Runs `effect` as one in-flight request; records its elapsed time on success. */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Counts one request in flight now and returns the (idempotent) function that ends it. For reservations that
   * outlive the fiber that made them, such as an admission grant; the holder releases it on every exit.
   */
  readonly beginNow: () => () => void
  /** Records a latency sample measured elsewhere. */
  readonly observe: (latencyMs: number) => Effect.Effect<void>
  /** `observe`, synchronously, at `now` (epoch ms on Effect's clock). */
  readonly observeAt: (latencyMs: number, now: number) => void
  /** Completes as soon as nothing is in flight. */
  readonly awaitIdle: Effect.Effect<void>
  /** `inFlight`, read synchronously. */
  readonly inFlightNow: () => number
  /** `ewmaMs` decayed to `now` (ms on Effect's clock), read synchronously. */
  readonly ewmaAt: (now: number) => number
}

interface Estimate {
  readonly rttMs: number
  readonly updatedAt: number
}

/**
 * PeakEWMA per tower/Finagle:
 * 1. reading decays the estimate toward 0 by exp(-elapsed / decay) (an idle node grows attractive again);
 * 2. a sample above the estimate replaces it (peak-sensitive);
 * 3. otherwise estimate = estimate × decay + sample × (1 − decay).
 */
export const decayTo = (e: Estimate, now: number, decayMs: number): Estimate => ({
  rttMs: e.rttMs * Math.exp(-Math.max(0, now - e.updatedAt) / decayMs),
  updatedAt: now
})

export const addSample = (e: Estimate, sampleMs: number, now: number, decayMs: number): Estimate => {
  if (sampleMs > e.rttMs) return { rttMs: sampleMs, updatedAt: now }
  const decay = Math.exp(-Math.max(0, now - e.updatedAt) / decayMs)
  return { rttMs: e.rttMs * decay + sampleMs * (1 - decay), updatedAt: now }
}

export const makeLoad = (options: LoadOptions = {}): Effect.Effect<Load> =>
  Effect.map(Clock.currentTimeMillis, (start) => {
    const decayMs = options.decayMs ?? 10_000
    // Owned by this instance and changed only inside Effect.sync (or the synchronous reads below).
    let inFlight = 0
    let estimate: Estimate = { rttMs: options.initialMs ?? 0, updatedAt: start }
    const idleWaiters = new Set<() => void>()
    const up = () => {
      inFlight += 1
    }
    const down = () => {
      inFlight -= 1
      if (inFlight === 0 && idleWaiters.size > 0) {
        const wake = [...idleWaiters]
        idleWaiters.clear()
        for (const resume of wake) resume()
      }
    }
    const ewmaAt = (now: number) => {
      estimate = decayTo(estimate, now, decayMs)
      return estimate.rttMs
    }
    const beginNow = () => {
      up()
      let ended = false
      return () => {
        if (ended) return
        ended = true
        down()
      }
    }
    const observeAt = (latencyMs: number, now: number) => {
      estimate = addSample(estimate, latencyMs, now, decayMs)
    }
    const observe = (latencyMs: number) => Effect.map(Clock.currentTimeMillis, (now) => observeAt(latencyMs, now))
    return {
      inFlight: Effect.sync(() => inFlight),
      ewmaMs: Effect.map(Clock.currentTimeMillis, ewmaAt),
      track: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          Effect.zipRight(Effect.sync(up), Clock.currentTimeMillis),
          (start) => Effect.tap(effect, () => Effect.flatMap(Clock.currentTimeMillis, (end) => observe(end - start))),
          () => Effect.sync(down)
        ),
      beginNow,
      observe,
      observeAt,
      awaitIdle: Effect.async<void>((resume) => {
        if (inFlight === 0) return resume(Effect.void)
        const wake = () => resume(Effect.void)
        idleWaiters.add(wake)
        return Effect.sync(() => void idleWaiters.delete(wake))
      }),
      inFlightNow: () => inFlight,
      ewmaAt
    }
  })
