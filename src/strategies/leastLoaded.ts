/**
 * Least-loaded: the candidate with the fewest in-flight requests per slot. Ties go to the lower peak-EWMA
 * latency, and exact ties rotate (a cursor of the Layer's instance), so equal nodes share the traffic evenly.
 */
import { Layer, Option } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import type { Pick, ScoredCandidate } from "../domain/Decision.js"
import { loadOf, plural, Strategy, synchronous } from "./Strategy.js"

const scoreOf = (c: Candidate): ScoredCandidate => ({
  nodeId: c.nodeId,
  score: loadOf(c),
  factors: [{ name: "load", value: loadOf(c) }, { name: "ewmaMs", value: c.ewmaMs }]
})

/**
 * 1. Keep the candidates with the minimum load (inFlight / slots).
 * 2. Among those, keep the ones with the minimum ewmaMs.
 * 3. Among those (exact ties), take the one the rotating cursor points at.
 */
const tiedBest = (candidates: ReadonlyArray<Candidate>): ReadonlyArray<Candidate> => {
  const minLoad = Math.min(...candidates.map(loadOf))
  const leastLoaded = candidates.filter((c) => loadOf(c) === minLoad)
  const minEwma = Math.min(...leastLoaded.map((c) => c.ewmaMs))
  return leastLoaded.filter((c) => c.ewmaMs === minEwma)
}

const explain = (chosen: Candidate, tied: number, total: number): string =>
  `least-loaded: lowest load ${chosen.inFlight}/${Math.max(chosen.slots, 1)} slots, ewma ${
    Math.round(chosen.ewmaMs)
  }ms${tied > 1 ? `, ${tied} tied, rotating` : ""} (${plural(total)})`

export const layerLeastLoaded: Layer.Layer<Strategy> = Layer.sync(Strategy, () => {
  let cursor = 0
  return synchronous("least-loaded", (_intent, candidates) => {
    if (candidates.length === 0) return Option.none<Pick>()
    const tied = tiedBest(candidates)
    const turn = tied.length > 1 ? cursor++ : 0
    const chosen = tied[turn % tied.length] ?? candidates[0]!
    return Option.some<Pick>({
      candidate: chosen,
      score: loadOf(chosen),
      factors: scoreOf(chosen).factors,
      reasoning: explain(chosen, tied.length, candidates.length),
      scored: candidates.map(scoreOf)
    })
  })
})
