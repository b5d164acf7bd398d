import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { layerP2cEwma, p2cCost } from "../../src/strategies/p2cEwma.js"
import { candidate, choose, chooseMany, countBy } from "./fixtures.js"

describe("p2c-ewma", () => {
  it("costs ewma × (in-flight + 1), tower's PeakEwma", () => {
    assert.strictEqual(p2cCost(candidate("a", { ewmaMs: 50, inFlight: 3 })), 200)
  })

  it.effect("picks the cheaper of the two it samples, whichever comes first", () =>
    Effect.gen(function*() {
      const pair = [candidate("cheap", { ewmaMs: 100, inFlight: 0 }), candidate("dear", { ewmaMs: 100, inFlight: 4 })]
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const pick = yield* choose(pair).pipe(Effect.withRandom(Random.make(seed)))
        assert.strictEqual(pick.candidate.nodeId, "cheap")
        assert.strictEqual(pick.reasoning, "p2c-ewma: cheap (cost 100) over dear (cost 500) of 2 candidates")
        assert.deepStrictEqual(pick.scored.map((s) => s.nodeId).sort(), ["cheap", "dear"])
      }
    }).pipe(Effect.provide(layerP2cEwma)))

  it.effect("never picks the most expensive of three, and favours the cheapest", () =>
    Effect.gen(function*() {
      const three = [
        candidate("fast", { ewmaMs: 50 }),
        candidate("mid", { ewmaMs: 200 }),
        candidate("slow", { ewmaMs: 2000, inFlight: 2 })
      ]
      const counts = countBy(yield* chooseMany(three, 300).pipe(Effect.withRandom(Random.make(11))))
      assert.strictEqual(counts["slow"], undefined)
      assert.isAbove(counts["fast"] ?? 0, counts["mid"] ?? 0)
    }).pipe(Effect.provide(layerP2cEwma)))

  it.effect("breaks an equal cost by fewer in flight (nodes with no latency yet cost 0)", () =>
    Effect.gen(function*() {
      const fresh = [candidate("idle", { ewmaMs: 0, inFlight: 0 }), candidate("busy", { ewmaMs: 0, inFlight: 5 })]
      const ids = yield* chooseMany(fresh, 20).pipe(Effect.withRandom(Random.make(3)))
      assert.deepStrictEqual(countBy(ids), { idle: 20 })
    }).pipe(Effect.provide(layerP2cEwma)))

  it.effect("takes a single candidate whatever its cost", () =>
    Effect.gen(function*() {
      const pick = yield* choose([candidate("only", { ewmaMs: 5000 })])
      assert.strictEqual(pick.candidate.nodeId, "only")
      assert.strictEqual(pick.reasoning, "p2c-ewma: the only candidate")
    }).pipe(Effect.provide(layerP2cEwma)))
})
