/** Round-robin's balance law: over any number of picks among a fixed list, per-node counts differ by at most 1. */
import { Effect, Option } from "effect"
import fc from "fast-check"
import { describe, it } from "vitest"
import { layerRoundRobin } from "../src/strategies/roundRobin.js"
import { Strategy } from "../src/strategies/Strategy.js"
import { candidatesArb, intentArb } from "../src/testing/strategyLaws.js"

describe("round-robin balance", () => {
  it("counts over any number of picks among a fixed list differ by at most 1", async () => {
    await fc.assert(
      fc.asyncProperty(
        candidatesArb.filter((cs) => cs.length > 0),
        intentArb,
        fc.nat(200),
        async (candidates, intent, picks) => {
          const chosen = await Effect.runPromise(
            Effect.flatMap(Strategy, (s) => Effect.replicateEffect(s.choose(intent, candidates), picks)).pipe(
              Effect.provide(layerRoundRobin)
            )
          )
          const counts = new Map(candidates.map((c) => [c.nodeId as string, 0]))
          for (const pick of chosen) {
            const id = Option.getOrThrow(pick).candidate.nodeId
            counts.set(id, (counts.get(id) ?? 0) + 1)
          }
          const values = [...counts.values()]
          return counts.size === candidates.length && Math.max(...values) - Math.min(...values) <= 1
        }
      ),
      { numRuns: 200, seed: 20240 }
    )
  })
})
