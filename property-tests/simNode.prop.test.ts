/** Scheduling laws of a simulated node over random arrival sequences, in virtual time. */
import { Effect, Fiber, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { SimTraceEvent } from "../src/sim/engine.js"
import { makeSimNode } from "../src/sim/SimNode.js"
import { testProfile } from "../test/sim/fixtures.js"
import { call } from "../test/sim/helpers.js"

const arrival = fc.record({
  gapMs: fc.integer({ min: 0, max: 300 }),
  model: fc.constantFrom("tiny", "other", "emb"),
  numPredict: fc.integer({ min: 1, max: 12 }),
  promptChars: fc.integer({ min: 1, max: 400 })
})

type Arrival = typeof arrival extends fc.Arbitrary<infer A> ? A : never

const profile = { ...testProfile, maxQueue: 4 }

const simulate = (arrivals: ReadonlyArray<Arrival>) =>
  Effect.gen(function*() {
    const trace: Array<SimTraceEvent> = []
    const node = yield* makeSimNode({ name: "p", profile, seed: 3, trace: (e) => void trace.push(e) })
    const fibers = []
    for (const a of arrivals) {
      yield* TestClock.adjust(`${a.gapMs} millis`)
      const body = a.model === "emb"
        ? { model: a.model, input: "x".repeat(a.promptChars) }
        : { model: a.model, prompt: "p".repeat(a.promptChars), stream: false, options: { num_predict: a.numPredict } }
      fibers.push(yield* Effect.fork(call(node, "POST", a.model === "emb" ? "/api/embed" : "/api/generate", body)))
    }
    yield* TestClock.adjust("1 hour")
    const statuses = yield* Effect.forEach(fibers, (f) => Effect.map(Fiber.join(f), (c) => c.status))
    return { trace, statuses }
  }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))

describe("sim node scheduling laws", () => {
  it("never runs more than a model's slots at once, starts in FIFO order, and completes every accepted request", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arrival, { minLength: 1, maxLength: 20 }), async (arrivals) => {
        const { trace, statuses } = await Effect.runPromise(simulate(arrivals))
        const running = new Map<string, number>()
        const lastStart = new Map<string, number>()
        for (const e of trace) {
          if (e.type === "start") {
            const n = (running.get(e.model) ?? 0) + 1
            running.set(e.model, n)
            expect(n).toBeLessThanOrEqual(e.model === "emb:latest" ? 1 : profile.slots)
            expect(e.seq).toBeGreaterThan(lastStart.get(e.model) ?? -1)
            lastStart.set(e.model, e.seq)
          } else if (e.type === "finish") {
            running.set(e.model, (running.get(e.model) ?? 0) - 1)
          }
        }
        const rejected = trace.filter((e) => e.type === "reject").length
        const starts = trace.filter((e) => e.type === "start").length
        const finishes = trace.filter((e) => e.type === "finish").length
        expect(statuses.filter((s) => s === 503).length).toBe(rejected)
        expect(statuses.filter((s) => s === 200).length).toBe(arrivals.length - rejected)
        expect(starts).toBe(arrivals.length - rejected)
        expect(finishes).toBe(starts)
      }),
      { numRuns: 25, seed: 20261 }
    )
  })
})
