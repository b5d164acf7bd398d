import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { layerRandom } from "../../src/strategies/random.js"
import { candidate, choose, chooseMany, countBy } from "./fixtures.js"

const five = ["a", "b", "c", "d", "e"].map((id) => candidate(id))

describe("random", () => {
  it.effect("makes the same picks under the same seed", () =>
    Effect.gen(function*() {
      const run = (seed: number) => chooseMany(five, 50).pipe(Effect.withRandom(Random.make(seed)))
      const first = yield* run(7)
      assert.deepStrictEqual(yield* run(7), first)
      assert.notDeepEqual(yield* run(8), first)
    }).pipe(Effect.provide(layerRandom)))

  it.effect("spreads picks over every candidate", () =>
    Effect.gen(function*() {
      const counts = countBy(yield* chooseMany(five, 1000).pipe(Effect.withRandom(Random.make(1))))
      for (const c of five) assert.isAbove(counts[c.nodeId] ?? 0, 150)
    }).pipe(Effect.provide(layerRandom)))

  it.effect("follows the random index it draws", () =>
    Effect.gen(function*() {
      const pick = yield* choose(five).pipe(Effect.withRandomFixed([3]))
      assert.strictEqual(pick.candidate.nodeId, "d")
      assert.strictEqual(pick.reasoning, "random: uniform pick (5 candidates)")
    }).pipe(Effect.provide(layerRandom)))
})
