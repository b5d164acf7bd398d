/** A routing decision and why: what the decision log, headers and `_sollol_routing` show. */
import type { Candidate } from "./Candidate.js"
import type { NodeId } from "./NodeId.js"

/** One scorer's contribution to a candidate's score (lower total = better for cost-based strategies). */
export interface Factor {
  readonly name: string
  readonly value: number
}

export interface ScoredCandidate {
  readonly nodeId: NodeId
  readonly score: number
  readonly factors: ReadonlyArray<Factor>
}

/** What a strategy returns: the chosen candidate plus the reasons. */
export interface Pick {
  readonly candidate: Candidate
  readonly score: number
  readonly factors: ReadonlyArray<Factor>
  readonly reasoning: string
  /** Every candidate's score, when the strategy computed them. */
  readonly scored: ReadonlyArray<ScoredCandidate>
}

export const simplePick = (candidate: Candidate, reasoning: string, score = 0): Pick => ({
  candidate,
  score,
  factors: [],
  reasoning,
  scored: []
})
