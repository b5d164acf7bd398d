/**
 * Load accounting for one node (tower's `load` module): requests in flight, and a PeakEWMA of latency on
 * Effect's Clock. In-flight is acquired and released around each request, so no exit path leaks a count.
 */
import { Clock, Effect, Ref, Stream, SubscriptionRef } from "effect"

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
   * Counts one request in flight now and returns the effect that ends it (idempotent). For reservations that
   * outlive the fiber that made them, such as an admission grant; the holder releases it in a finalizer.
   */
  readonly begin: Effect.Effect<Effect.Effect<void>>
  /** Records a latency sample measured elsewhere. */
  readonly observe: (latencyMs: number) => Effect.Effect<void>
  /** Completes as soon as nothing is in flight. */
  readonly awaitIdle: Effect.Effect<void>
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
  Effect.gen(function*() {
    const decayMs = options.decayMs ?? 10_000
    const inFlight = yield* SubscriptionRef.make(0)
    const start = yield* Clock.currentTimeMillis
    const estimate = yield* Ref.make<Estimate>({ rttMs: options.initialMs ?? 0, updatedAt: start })
    const observe = (latencyMs: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(estimate, (e) => addSample(e, latencyMs, now, decayMs)))
    return {
      inFlight: SubscriptionRef.get(inFlight),
      ewmaMs: Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => Ref.modify(estimate, (e) => {
          const next = decayTo(e, now, decayMs)
          return [next.rttMs, next]
        })
      ),
      track: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          Effect.zipRight(SubscriptionRef.update(inFlight, (n) => n + 1), Clock.currentTimeMillis),
          (start) => Effect.tap(effect, () => Effect.flatMap(Clock.currentTimeMillis, (end) => observe(end - start))),
          () => SubscriptionRef.update(inFlight, (n) => n - 1)
        ),
      begin: Effect.map(SubscriptionRef.update(inFlight, (n) => n + 1), () => {
        let ended = false
        return Effect.suspend(() => {
          if (ended) return Effect.void
          ended = true
          return SubscriptionRef.update(inFlight, (n) => n - 1)
        })
      }),
      observe,
      awaitIdle: inFlight.changes.pipe(Stream.filter((n) => n === 0), Stream.take(1), Stream.runDrain)
    }
  })
