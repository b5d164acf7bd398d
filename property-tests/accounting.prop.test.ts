/**
 * Accounting: after any random mix of success, failure, timeout, client abort and hedge, every in-flight counter
 * and slot is back to exactly 0 and the admission queue is empty (DESIGN.md §2 step 7: no counter drifts).
 */
import { Effect, Fiber, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { NodeRegistry } from "../src/actors/NodeRegistry.js"
import { AdmissionTag } from "../src/runtime/Admission.js"
import { handle } from "../src/runtime/workflow.js"
import { bodyText, chatIntent, hang, makeNodes, recordingSink, reply, runtimeOf } from "../test/reliability/harness.js"
import type { Override } from "../test/reliability/harness.js"

type Kind = "ok" | "fail" | "timeout" | "abort" | "slow"

const ok = reply(200, { done: true })

const scripted: Override = (request, accept, nodeId) => {
  const text = bodyText(request)
  if (text.includes("#fail")) return reply(500, { error: "boom" })(request, accept, nodeId)
  if (text.includes("#timeout")) return hang(request, accept, nodeId)
  if (text.includes("#slow")) return Effect.sleep(3_000).pipe(Effect.zipRight(Effect.suspend(() => ok(request, accept, nodeId)!)))
  return undefined
}

const scenario = fc.array(
  fc.record({
    kind: fc.constantFrom<Kind>("ok", "fail", "timeout", "abort", "slow"),
    stream: fc.boolean(),
    delayMs: fc.integer({ min: 0, max: 400 }),
    abortAfterMs: fc.integer({ min: 0, max: 2_000 })
  }),
  { minLength: 1, maxLength: 16 }
)

const runScenario = (requests: ReadonlyArray<{ kind: Kind; stream: boolean; delayMs: number; abortAfterMs: number }>) =>
  Effect.gen(function*() {
    const nodes = yield* makeNodes(["a", "b", "c"])
    for (const n of nodes) n.override = scripted
    return yield* Effect.gen(function*() {
      const fibers = []
      for (const r of requests) {
        const intent = chatIntent({ stream: r.stream, content: `hello #${r.kind}` })
        const fiber = yield* Effect.fork(handle(intent, recordingSink(r.stream ? "ndjson" : "json")))
        if (r.kind === "abort") yield* Effect.fork(Effect.zipRight(Effect.sleep(r.abortAfterMs), Fiber.interrupt(fiber)))
        fibers.push(fiber)
        yield* TestClock.adjust(r.delayMs)
      }
      for (let i = 0; i < 400 && fibers.some((f) => f.unsafePoll() === null); i++) yield* TestClock.adjust(100)
      for (const f of fibers) yield* Fiber.await(f)
      const views = yield* (yield* NodeRegistry).list
      const depth = yield* (yield* AdmissionTag).depth
      return { inFlight: views.map((v) => v.inFlight), depth }
    }).pipe(
      Effect.provide(runtimeOf(nodes, {
        routing: { hedging: true, hedgeMinSamples: 3 },
        timeouts: { firstByteMs: 1_500, totalMs: 10_000 },
        health: { failureThreshold: 1_000 }
      }, 1))
    )
  }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))

describe("accounting", () => {
  it("returns every in-flight count and slot to 0 and empties the queue after any mix of outcomes", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (requests) => {
        const result = await Effect.runPromise(runScenario(requests))
        expect(result.inFlight).toEqual([0, 0, 0])
        expect(result.depth).toBe(0)
      }),
      { numRuns: 10, seed: 20_260_501 }
    )
  }, 60_000)
})
