/** Every built-in strategy, and a lifted function, against the shared law suite (src/testing/strategyLaws.ts). */
import type { Candidate } from "../src/domain/Candidate.js"
import { describe, it } from "vitest"
import { fromFunction } from "../src/strategies/fromFunction.js"
import { layerLeastLoaded } from "../src/strategies/leastLoaded.js"
import { layerP2cEwma } from "../src/strategies/p2cEwma.js"
import { layerRandom } from "../src/strategies/random.js"
import { layerRoundRobin } from "../src/strategies/roundRobin.js"
import { checkStrategyLaws } from "../src/testing/strategyLaws.js"

/** A fair plain function: the fewest in flight, ties spread by a hash of the request id. */
const fewestInFlightHashed = fromFunction("fewest-hashed", (request, cs) => {
  const min = Math.min(...cs.map((c) => c.inFlight))
  const tied: ReadonlyArray<Candidate> = cs.filter((c) => c.inFlight === min)
  const hash = [...request.requestId].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7)
  return tied[hash % tied.length]
})

describe("strategy laws", () => {
  it("round-robin obeys the strategy laws", () => checkStrategyLaws(layerRoundRobin))
  it("random obeys the strategy laws", () => checkStrategyLaws(layerRandom))
  it("least-loaded obeys the strategy laws", () => checkStrategyLaws(layerLeastLoaded))
  it("p2c-ewma obeys the strategy laws", () => checkStrategyLaws(layerP2cEwma))
  it("a function lifted by fromFunction obeys the strategy laws", () => checkStrategyLaws(fewestInFlightHashed))
  it("a function that returns rubbish still obeys laws (a)–(d) through the fallback", () =>
    checkStrategyLaws(fromFunction("rubbish", () => ({ nodeId: "nowhere" }) as unknown as Candidate), { numRuns: 30 })
      .then(() => {
        throw new Error("expected the fairness law to fail: the fallback always takes the first candidate")
      }, (e: unknown) => {
        if (!String(e).includes("law (e)")) throw e
      }))
})
