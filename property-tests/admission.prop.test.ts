/**
 * Admission queue laws over random arrival sequences with one slot, under TestClock: no starvation (a bound from
 * the aging interval and the service time), grants in effective-priority order (ties FIFO), and capacity conserved
 * when waiters are interrupted or time out.
 */
import { Effect, Exit, Fiber, Option, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { make } from "../src/runtime/Admission.js"

const AGING_MS = 1_000
const MAX_SERVICE_MS = 400

interface Spec {
  /** Gap to the previous arrival (≥ 1 ms, so arrival times are distinct). */
  readonly gap: number
  readonly priority: number
  readonly serviceMs: number
  /** Interrupted this long after arrival, if set. */
  readonly cancelAfter: number | undefined
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  gap: fc.integer({ min: 1, max: 300 }),
  priority: fc.integer({ min: 1, max: 10 }),
  serviceMs: fc.integer({ min: 1, max: MAX_SERVICE_MS }),
  cancelAfter: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined })
})

interface Waiter extends Spec {
  readonly id: number
  readonly arrivedAt: number
  grantedAt: number | undefined
  /** When it left without a grant (interrupted or timed out). */
  goneAt: number | undefined
}

/** The model's order: higher effective priority first, then earlier arrival (arrivals are distinct here). */
const outranks = (a: Waiter, b: Waiter, now: number) => {
  const ea = a.priority + (now - a.arrivedAt) / AGING_MS
  const eb = b.priority + (now - b.arrivedAt) / AGING_MS
  return Math.abs(ea - eb) > 1e-9 ? ea > eb : a.arrivedAt < b.arrivedAt
}

const runScenario = (specs: ReadonlyArray<Spec>, maxWaitMs: number) =>
  Effect.gen(function*() {
    const admission = yield* make({ maxSize: 1_000, agingIntervalMs: AGING_MS, maxWaitMs })
    let holders = 0
    let grants = 0
    let releases = 0
    const violations: Array<string> = []
    let at = 0
    const waiters: Array<Waiter> = specs.map((s, id) => {
      at += s.gap
      return { ...s, id, arrivedAt: at, grantedAt: undefined, goneAt: undefined }
    })
    const start = yield* TestClock.currentTimeMillis
    const clock = yield* Effect.clock
    const tryAcquire = (w: Waiter) => () => {
      const now = clock.unsafeCurrentTimeMillis()
      if (holders > 0) return undefined
      holders++
      grants++
      w.grantedAt = now - start
      const t = now - start
      // every waiter surely queued (arrived strictly earlier, still there) must not outrank the one granted
      for (const o of waiters) {
        if (o === w || o.arrivedAt >= t || o.grantedAt !== undefined) continue
        if (o.goneAt !== undefined || (o.cancelAfter !== undefined && o.arrivedAt + o.cancelAfter <= t)) continue
        if (o.arrivedAt + maxWaitMs <= t) continue
        if (outranks(o, w, t)) violations.push(`t=${t}: granted #${w.id} (p${w.priority}) over #${o.id} (p${o.priority})`)
      }
      return { value: w.id, release: () => { holders--; releases++ } }
    }
    const life = (w: Waiter) =>
      admission.withSlot(
        { priority: w.priority, arrivedAt: start + w.arrivedAt, group: "m", tryAcquire: tryAcquire(w) },
        () => Effect.sleep(w.serviceMs)
      ).pipe(Effect.onExit((exit) =>
        Exit.isFailure(exit) && w.grantedAt === undefined
          ? Effect.map(TestClock.currentTimeMillis, (now) => { w.goneAt = now - start })
          : Effect.void
      ))
    const fibers = yield* Effect.forEach(waiters, (w) =>
      Effect.fork(Effect.gen(function*() {
        yield* Effect.sleep(w.arrivedAt)
        const f = yield* Effect.fork(life(w))
        if (w.cancelAfter !== undefined) {
          yield* Effect.fork(Effect.sleep(w.cancelAfter).pipe(Effect.zipRight(Fiber.interrupt(f))))
        }
        yield* Fiber.await(f)
      })))
    yield* TestClock.adjust(at + specs.length * MAX_SERVICE_MS + maxWaitMs + 10_000)
    yield* Effect.forEach(fibers, Fiber.await, { discard: true })
    // after everything: the slot is free and a newcomer gets it at once (no grant was lost)
    const late = yield* admission.withSlot({
      priority: 1,
      arrivedAt: yield* TestClock.currentTimeMillis,
      group: "m",
      tryAcquire: () => holders === 0 ? { value: -1, release: () => undefined } : undefined
    }, Effect.succeed).pipe(Effect.timeout(1), Effect.option)
    return { waiters, violations, holders, grants, releases, late, depth: yield* admission.depth }
  }).pipe(Effect.provide(TestContext.TestContext))

describe("Admission (one slot, random arrivals, TestClock)", () => {
  it("grants by effective priority, never starves, and conserves the slot through interrupts and timeouts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(60_000, 1_500),
        async (specs, maxWaitMs) => {
          const r = await Effect.runPromise(runScenario(specs, maxWaitMs))
          expect(r.violations).toEqual([])
          expect(r.holders).toBe(0)
          expect(r.grants).toBe(r.releases)
          expect(r.depth).toBe(0)
          expect(Option.isSome(r.late)).toBe(true)
          for (const w of r.waiters) {
            const cancelled = w.cancelAfter !== undefined && w.goneAt !== undefined
            const timedOut = w.goneAt !== undefined && w.goneAt >= w.arrivedAt + maxWaitMs
            // every waiter is served, unless it was interrupted or gave up at maxWaitMs
            if (!cancelled && !timedOut) expect(w.grantedAt).toBeDefined()
            if (w.grantedAt === undefined) continue
            // no starvation: only waiters arriving before this one's effective priority reaches 10 can go first
            const horizon = w.arrivedAt + (10 - w.priority) * AGING_MS
            const ahead = r.waiters.filter((o) => o !== w && o.arrivedAt < horizon).length
            expect(w.grantedAt - w.arrivedAt).toBeLessThanOrEqual((ahead + 1) * MAX_SERVICE_MS)
          }
        }
      ),
      { seed: 4242, numRuns: 30 }
    )
  }, 60_000)
})
