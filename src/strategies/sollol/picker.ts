/**
 * The `sollol` pipeline without state: filter → weighted scorers → lowest total, with every candidate's factors and
 * a one-line reasoning. The Layer (sollol.ts) adds the affinity memory and the tie cursor.
 */
import type { Candidate } from "../../domain/Candidate.js"
import type { Factor, Pick, ScoredCandidate } from "../../domain/Decision.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { affinity } from "./affinity.js"
import { completionTime } from "./completionTime.js"
import type { SollolConfig, SollolWeights } from "./config.js"
import { makeContext, type Scorer, type ScoringContext } from "./context.js"
import { health } from "./health.js"
import { options } from "./options.js"
import { priority } from "./priority.js"

/** The scorers, in the order their factors are reported. */
export const scorers: ReadonlyArray<readonly [keyof SollolWeights, Scorer]> = [
  ["completionTime", completionTime],
  ["health", health],
  ["priority", priority],
  ["affinity", affinity],
  ["options", options]
]

/**
 * Drops saturated nodes (inFlight ≥ slots) while at least one candidate has a free slot, except a saturated node
 * whose expected completion, its queue included, is below `waitRatio` × the best free node's: that node is worth
 * waiting for (late binding re-scores when a slot frees): a short queue at a fast GPU beats a free CPU box.
 * `waitedMs` (how long the request has waited already) is added to a saturated node's estimate: a request that
 * waited w for a busy node is likely to wait about as long again, so under overload the slower free nodes get used.
 */
export const filterCandidates = (
  candidates: ReadonlyArray<Candidate>,
  ctx?: ScoringContext,
  waitedMs = 0
): ReadonlyArray<Candidate> => {
  let saturated = 0
  let bestFreeMs = Infinity
  for (const c of candidates) {
    if (c.inFlight >= Math.max(1, c.slots)) saturated++
    else if (ctx !== undefined) bestFreeMs = Math.min(bestFreeMs, ctx.estimateOf(c).totalMs)
  }
  if (saturated === 0 || saturated === candidates.length) return candidates
  const waitBelowMs = ctx === undefined ? 0 : ctx.config.waitRatio * bestFreeMs
  return candidates.filter((c) =>
    c.inFlight < Math.max(1, c.slots) || (ctx !== undefined && ctx.estimateOf(c).totalMs + waitedMs < waitBelowMs)
  )
}

/** Shared factors for a zero contribution (most are zero): fewer allocations per decision at 1,000 nodes. */
const zeroFactors: ReadonlyArray<Factor> = scorers.map(([name]) => ({ name, value: 0 }))

export interface Scored {
  readonly candidate: Candidate
  readonly score: number
  readonly factors: ReadonlyArray<Factor>
}

export const scoreCandidate = (intent: RoutingIntent, c: Candidate, ctx: ScoringContext): Scored => {
  let score = 0
  const factors: Array<Factor> = new Array(scorers.length)
  for (let i = 0; i < scorers.length; i++) {
    const [name, scorer] = scorers[i]!
    const weight = ctx.config.weights[name]
    const value = weight === 0 ? 0 : weight * scorer(intent, c, ctx)
    score += value
    factors[i] = value === 0 ? zeroFactors[i]! : { name, value }
  }
  return { candidate: c, score, factors }
}

/**
 * The lowest total wins; among totals equal within 1e-9 (relative) the lowest inFlight; remaining ties are ordered
 * by node id and broken by `cursor % ties`, so equal nodes take turns while every decision stays reproducible.
 * Linear in the number of candidates. Undefined for none.
 */
export const selectBest = (
  scored: ReadonlyArray<Scored>,
  cursor: number
): { best: Scored; ties: number } | undefined => {
  let min = Infinity
  for (const s of scored) if (s.score < min) min = s.score
  const eps = 1e-9 * Math.max(1, Math.abs(min))
  let minInFlight = Infinity
  for (const s of scored) {
    if (s.score <= min + eps && s.candidate.inFlight < minInFlight) minInFlight = s.candidate.inFlight
  }
  const ties: Array<Scored> = []
  for (const s of scored) if (s.score <= min + eps && s.candidate.inFlight === minInFlight) ties.push(s)
  if (ties.length > 1) ties.sort((a, b) => (a.candidate.nodeId < b.candidate.nodeId ? -1 : 1))
  const best = ties[cursor % Math.max(ties.length, 1)]
  return best === undefined ? undefined : { best, ties: ties.length }
}

const fmt = (ms: number): string =>
  ms <= 0 ? "0" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`

/** `gpu-1: est. 1.2 s (queue 0, load 0, prefill 0.1 s, decode 1.1 s); healthy; affinity hit`. */
export const reasoningOf = (intent: RoutingIntent, s: Scored, ctx: ScoringContext, count: number): string => {
  const c = s.candidate
  const e = ctx.estimateOf(c)
  const parts = [
    `${c.nodeId}: est. ${fmt(e.totalMs)} (queue ${fmt(e.queueMs)}, load ${fmt(e.loadMs)}, prefill ${
      fmt(e.prefillMs)
    }, decode ${fmt(e.decodeMs)})`,
    c.health
  ]
  const value = (name: string) => s.factors.find((f) => f.name === name)?.value ?? 0
  if (value("affinity") < 0) parts.push("affinity hit")
  if (value("options") > 0) parts.push("reload for load options")
  const p = ctx.config.priority
  if (intent.priority >= p.highFrom) parts.push(`priority ${intent.priority}: fastest preferred`)
  else if (intent.priority <= p.lowTo) parts.push(`priority ${intent.priority}: fast nodes left free`)
  parts.push(`best of ${count}`)
  return parts.join("; ")
}

/** One full decision over `candidates` (non-empty for a pick). */
export const decide = (
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig,
  affinityNode: NodeId | undefined,
  cursor: number,
  waitedMs = 0
): { pick: Pick; ties: number } | undefined => {
  const ctx = makeContext(intent, candidates, config, affinityNode)
  const eligible = filterCandidates(candidates, ctx, waitedMs)
  const scored = eligible.map((c) => scoreCandidate(intent, c, ctx))
  const chosen = selectBest(scored, cursor)
  if (chosen === undefined) return undefined
  const { best } = chosen
  const all: ReadonlyArray<ScoredCandidate> = scored.map((s) => ({
    nodeId: s.candidate.nodeId,
    score: s.score,
    factors: s.factors
  }))
  return {
    pick: {
      candidate: best.candidate,
      score: best.score,
      factors: best.factors,
      reasoning: reasoningOf(intent, best, ctx, eligible.length),
      scored: all
    },
    ties: chosen.ties
  }
}
