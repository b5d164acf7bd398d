import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { layerLeastLoaded } from "../../src/strategies/leastLoaded.js"
import { candidate, choose, chooseMany, countBy } from "./fixtures.js"

describe("least-loaded", () => {
  it.effect("prefers the lowest in-flight per slot, not the lowest in-flight", () =>
    Effect.gen(function*() {
      const pick = yield* choose([
        candidate("small", { inFlight: 1, slots: 1 }),
        candidate("big", { inFlight: 2, slots: 8 }),
        candidate("mid", { inFlight: 1, slots: 2 })
      ])
      assert.strictEqual(pick.candidate.nodeId, "big")
      assert.strictEqual(pick.score, 0.25)
      assert.deepStrictEqual(pick.factors, [{ name: "load", value: 0.25 }, { name: "ewmaMs", value: 100 }])
      assert.deepStrictEqual(pick.scored.map((s) => [s.nodeId, s.score]), [["small", 1], ["big", 0.25], ["mid", 0.5]])
    }).pipe(Effect.provide(layerLeastLoaded)))

  it.effect("breaks an equal load by the lower EWMA latency", () =>
    Effect.gen(function*() {
      const ids = yield* chooseMany([
        candidate("slow", { inFlight: 1, ewmaMs: 900 }),
        candidate("fast", { inFlight: 1, ewmaMs: 80 }),
        candidate("busy", { inFlight: 3, ewmaMs: 10 })
      ], 5)
      assert.deepStrictEqual(ids, ["fast", "fast", "fast", "fast", "fast"])
    }).pipe(Effect.provide(layerLeastLoaded)))

  it.effect("rotates among exact ties so equal nodes share evenly", () =>
    Effect.gen(function*() {
      const tied = [candidate("a"), candidate("b"), candidate("c"), candidate("loaded", { inFlight: 1 })]
      const ids = yield* chooseMany(tied, 9)
      assert.deepStrictEqual(countBy(ids), { a: 3, b: 3, c: 3 })
      const pick = yield* choose(tied)
      assert.strictEqual(
        pick.reasoning,
        "least-loaded: lowest load 0/4 slots, ewma 100ms, 3 tied, rotating (4 candidates)"
      )
    }).pipe(Effect.provide(layerLeastLoaded)))

  it.effect("treats zero slots as one instead of dividing by zero", () =>
    Effect.gen(function*() {
      const pick = yield* choose([
        candidate("none", { inFlight: 1, slots: 0 }),
        candidate("two", { inFlight: 3, slots: 2 })
      ])
      assert.strictEqual(pick.candidate.nodeId, "none")
    }).pipe(Effect.provide(layerLeastLoaded)))
})
