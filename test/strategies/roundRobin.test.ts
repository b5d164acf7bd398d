import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { layerRoundRobin } from "../../src/strategies/roundRobin.js"
import { Strategy } from "../../src/strategies/Strategy.js"
import { candidate, chooseMany, intent } from "./fixtures.js"

const abc = [candidate("a"), candidate("b"), candidate("c")]

describe("round-robin", () => {
  it.effect("takes the candidates in turn and wraps around", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* chooseMany(abc, 7), ["a", "b", "c", "a", "b", "c", "a"])
    }).pipe(Effect.provide(layerRoundRobin)))

  it.effect("ignores load: a busy node still gets its turn", () =>
    Effect.gen(function*() {
      const busy = [candidate("a", { inFlight: 50 }), candidate("b")]
      assert.deepStrictEqual(yield* chooseMany(busy, 4), ["a", "b", "a", "b"])
    }).pipe(Effect.provide(layerRoundRobin)))

  it.effect("returns None for an empty list and explains a pick in one line", () =>
    Effect.gen(function*() {
      const s = yield* Strategy
      assert.isTrue(Option.isNone(yield* s.choose(intent, [])))
      const pick = yield* s.choose(intent, abc)
      assert.strictEqual(Option.getOrThrow(pick).reasoning, "round-robin: next in turn (3 candidates)")
      assert.strictEqual(s.name, "round-robin")
    }).pipe(Effect.provide(layerRoundRobin)))

  it.effect("keeps its cursor per layer build, not per module", () =>
    Effect.gen(function*() {
      const first = yield* chooseMany(abc, 2).pipe(Effect.provide(layerRoundRobin))
      const again = yield* chooseMany(abc, 2).pipe(Effect.provide(layerRoundRobin))
      assert.deepStrictEqual(first, ["a", "b"])
      assert.deepStrictEqual(again, ["a", "b"])
    }))
})
