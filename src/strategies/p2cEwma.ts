/**
 * Power of two choices over peak-EWMA cost, as tower's `p2c` balancer with `PeakEwma` load (after Finagle):
 * sample two distinct candidates with Effect's Random and keep the cheaper, so tests can seed the choice.
 */
import { Effect, Layer, Option, Random } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import type { Factor, Pick, ScoredCandidate } from "../domain/Decision.js"
import { plural, Strategy } from "./Strategy.js"

/** tower's PeakEwma cost: latency estimate × (pending + 1). */
export const p2cCost = (c: Candidate): number => c.ewmaMs * (c.inFlight + 1)

const factorsOf = (c: Candidate): ReadonlyArray<Factor> => [
  { name: "ewmaMs", value: c.ewmaMs },
  { name: "inFlight", value: c.inFlight },
  { name: "cost", value: p2cCost(c) }
]

const scoreOf = (c: Candidate): ScoredCandidate => ({ nodeId: c.nodeId, score: p2cCost(c), factors: factorsOf(c) })

/** The cheaper of the two; on equal cost the one with fewer in flight (nodes with no latency yet cost 0), then `a`. */
const cheaper = (a: Candidate, b: Candidate): Candidate => {
  const ca = p2cCost(a)
  const cb = p2cCost(b)
  return ca < cb || (ca === cb && a.inFlight <= b.inFlight) ? a : b
}

const pickOf = (chosen: Candidate, scored: ReadonlyArray<ScoredCandidate>, reasoning: string): Pick => ({
  candidate: chosen,
  score: p2cCost(chosen),
  factors: factorsOf(chosen),
  reasoning,
  scored
})

/**
 * 1. One candidate: take it.
 * 2. Draw index `a` uniformly, then `b` uniformly among the other n-1 (linkerd's gen_pair), so a ≠ b.
 * 3. Keep the lower cost; equal costs keep `a`, which is itself uniform, so equal nodes share traffic evenly.
 */
export const layerP2cEwma: Layer.Layer<Strategy> = Layer.succeed(
  Strategy,
  Strategy.of({
    name: "p2c-ewma",
    choose: (_intent, candidates) =>
      Effect.gen(function*() {
        const [only] = candidates
        if (only === undefined) return Option.none<Pick>()
        if (candidates.length === 1) {
          return Option.some(pickOf(only, [scoreOf(only)], "p2c-ewma: the only candidate"))
        }
        const i = yield* Random.nextIntBetween(0, candidates.length)
        const j0 = yield* Random.nextIntBetween(0, candidates.length - 1)
        const a = candidates[i] ?? only
        const b = candidates[j0 >= i ? j0 + 1 : j0] ?? only
        const chosen = cheaper(a, b)
        const other = chosen === a ? b : a
        const costs = `${chosen.nodeId} (cost ${Math.round(p2cCost(chosen))}) over ${other.nodeId}`
        const reasoning = `p2c-ewma: ${costs} (cost ${Math.round(p2cCost(other))}) of ${plural(candidates.length)}`
        return Option.some(pickOf(chosen, [scoreOf(a), scoreOf(b)], reasoning))
      })
  })
)
