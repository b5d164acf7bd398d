/**
 * The `sollol` pipeline without state: filter → weighted scorers → lowest total, with every candidate's factors and
 * a one-line reasoning. The Layer (sollol.ts) adds the affinity memory and the tie cursor.
 */
import type { Candidate } from "../../domain/Candidate.js"
import type { Factor, Pick as Decision, ScoredCandidate } from "../../domain/Decision.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { affinity } from "./affinity.js"
import { completionTime } from "./completionTime.js"
import type { SollolConfig, SollolWeights } from "./config.js"
import { type DecisionTables, isSaturated, makeTables, type Scorer, type ScoringContext } from "./context.js"
import { health } from "./health.js"
import type { Occupied } from "./occupancy.js"
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
 * The free node a saturated one is weighed against: the lowest expected completion among free candidates at most
 * `spillTolerance` times slower (service time) than the fastest candidate, or slower ones once the request has
 * waited as long as they would take. Infinity when there is none: then every saturated node stays a candidate.
 */
export const spillTargetMs = (
  candidates: ReadonlyArray<Candidate>,
  tables: DecisionTables,
  config: SollolConfig,
  waitedMs: number
): number => {
  const limit = config.spillTolerance * tables.ctx.fastestServiceMs
  let best = Infinity
  for (let i = 0; i < candidates.length; i++) {
    const total = tables.totals[i]!
    if (total < best && !isSaturated(candidates[i]!) && (tables.services[i]! <= limit || waitedMs >= total)) best = total
  }
  return best
}

/**
 * A saturated node (inFlight ≥ slots) stays a candidate while its expected completion, its queue included, is below
 * `waitRatio` × the spill target's (`spillTargetMs`): that node is worth waiting for (late binding re-scores when a
 * slot frees): a short queue at a fast GPU beats a free CPU box. `waitedMs` (how long the request has waited
 * already) is added to the saturated node's estimate: a request that waited w for a busy node is likely to wait
 * about as long again, so under overload the slower free nodes get used.
 */
export const worthWaiting = (totalMs: number, spillMs: number, config: SollolConfig, waitedMs: number): boolean =>
  totalMs + config.waitedWeight * waitedMs < config.waitRatio * spillMs

/** Whether candidate `i` is scored at all (see `worthWaiting`). */
const eligible = (
  candidates: ReadonlyArray<Candidate>,
  tables: DecisionTables,
  spillMs: number,
  config: SollolConfig,
  waitedMs: number,
  i: number
): boolean =>
  tables.saturated === 0 || tables.saturated === candidates.length || !isSaturated(candidates[i]!) ||
  worthWaiting(tables.totals[i]!, spillMs, config, waitedMs)

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

/** A candidate's share of model memory on the GPU, for tie-breaks: unknown (nothing loaded) counts as all. */
const gpuOf = (c: Candidate): number => c.gpuShare ?? 1

/**
 * The lowest total wins; among totals equal within 1e-9 (relative) the lowest inFlight, then the node that runs its
 * models on the GPU (before anything is learned every node ties at the configured defaults, and a CPU box should not
 * be the first tried); remaining ties keep the candidates' order (the registry's: as the nodes were configured) and
 * are broken by `cursor % ties`, so equal nodes take turns, the first configured first, while every decision stays
 * reproducible. Linear in the number of candidates. Undefined for none.
 */
export const selectIndex = (
  scores: ReadonlyArray<{ readonly score: number }>,
  candidates: ReadonlyArray<Candidate>,
  cursor: number
): { index: number; ties: number } | undefined => {
  const count = scores.length
  let min = Infinity
  for (let k = 0; k < count; k++) if (scores[k]!.score < min) min = scores[k]!.score
  const eps = 1e-9 * Math.max(1, Math.abs(min))
  let minInFlight = Infinity
  let maxGpu = -Infinity
  let ties = 0
  let first = -1
  for (let k = 0; k < count; k++) {
    if (scores[k]!.score > min + eps) continue
    const c = candidates[k]!
    const gpu = gpuOf(c)
    if (c.inFlight < minInFlight || c.inFlight === minInFlight && gpu > maxGpu) {
      minInFlight = c.inFlight
      maxGpu = gpu
      ties = 1
      first = k
    } else if (c.inFlight === minInFlight && gpu === maxGpu) ties++
  }
  if (first < 0) return undefined
  if (ties === 1) return { index: first, ties }
  // several exact ties (rare, mostly before anything is learned): in the candidates' order, taken in turn
  const tied: Array<number> = []
  for (let k = 0; k < count; k++) {
    const c = candidates[k]!
    if (scores[k]!.score <= min + eps && c.inFlight === minInFlight && gpuOf(c) === maxGpu) tied.push(k)
  }
  return { index: tied[cursor % tied.length]!, ties }
}

/** `selectIndex` over scored candidates. */
export const selectBest = (
  scored: ReadonlyArray<Scored>,
  cursor: number
): { best: Scored; ties: number } | undefined => {
  const chosen = selectIndex(scored, scored.map((s) => s.candidate), cursor)
  return chosen === undefined ? undefined : { best: scored[chosen.index]!, ties: chosen.ties }
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
  const late = ctx.latenessOf(c)
  if (late > 1) parts.push(`running ${late.toFixed(1)}× slower than assumed`)
  for (const f of s.factors) {
    if (f.name === "affinity" && f.value < 0) parts.push("affinity hit")
    else if (f.name === "options" && f.value > 0) parts.push("reload for load options")
  }
  const p = ctx.config.priority
  if (intent.priority >= p.highFrom) parts.push(`priority ${intent.priority}: fastest preferred`)
  else if (intent.priority <= p.lowTo) parts.push(`priority ${intent.priority}: fast nodes left free`)
  parts.push(`best of ${count}`)
  return parts.join("; ")
}

/** Up to this many candidates every eligible one is scored (and shown in the decision); past it, see `decide`. */
export const SCORE_ALL_UP_TO = 32

/**
 * One full decision over `candidates` (non-empty for a pick): one pass for the tables, one to score.
 * Past `SCORE_ALL_UP_TO` candidates, branch and bound: every scorer but affinity costs ≥ 0, so
 * completionTime × its weight bounds a candidate's score from below; the candidate with the lowest bound is scored
 * first, and any other whose bound exceeds the best score so far is skipped (it cannot win, nor tie). The pick is
 * the same as scoring everyone; `scored` then lists the contenders only. The remembered affinity node is always
 * scored, and nothing is skipped when a weight is negative.
 */
export const decide = (
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig,
  affinityNode: NodeId | undefined,
  cursor: number,
  waitedMs = 0,
  slowdown?: (running: number) => number,
  /** What the occupancy knows of the candidates (real waits, remaining work, longest-running requests). */
  occupied?: Occupied
): { pick: Decision; ties: number; estimateMs: number } | undefined => {
  const tables = makeTables(intent, candidates, config, affinityNode, slowdown, occupied)
  const { totals } = tables
  const spillMs = tables.saturated === 0 ? Infinity : spillTargetMs(candidates, tables, config, waitedMs)
  const w = config.weights
  const bound = candidates.length > SCORE_ALL_UP_TO &&
    w.completionTime >= 0 && w.health >= 0 && w.priority >= 0 && w.affinity >= 0 && w.options >= 0
  // what the decision log keeps, and the candidate behind each entry
  const scored: Array<ScoredCandidate> = []
  const scoredOf: Array<Candidate> = []
  let bestScore = Infinity
  const score = (i: number) => {
    const c = candidates[i]!
    tables.focus(i)
    const s = scoreCandidate(intent, c, tables.ctx)
    scored.push({ nodeId: c.nodeId, score: s.score, factors: s.factors })
    scoredOf.push(c)
    if (s.score < bestScore) bestScore = s.score
  }
  let first = -1
  if (bound) {
    for (let i = 0; i < candidates.length; i++) {
      if (!eligible(candidates, tables, spillMs, config, waitedMs, i)) continue
      if (first < 0 || totals[i]! < totals[first]!) first = i
    }
    if (first >= 0) score(first)
  }
  for (let i = 0; i < candidates.length; i++) {
    if (i === first || !eligible(candidates, tables, spillMs, config, waitedMs, i)) continue
    if (
      bound && candidates[i]!.nodeId !== affinityNode &&
      w.completionTime * totals[i]! > bestScore + 1e-9 * Math.max(1, Math.abs(bestScore))
    ) continue
    score(i)
  }
  const chosen = selectIndex(scored, scoredOf, cursor)
  if (chosen === undefined) return undefined
  const best = scored[chosen.index]!
  const candidate = scoredOf[chosen.index]!
  return {
    pick: {
      candidate,
      score: best.score,
      factors: best.factors,
      reasoning: reasoningOf(intent, { candidate, score: best.score, factors: best.factors }, tables.ctx, scored.length),
      scored
    },
    ties: chosen.ties,
    estimateMs: totals[candidates.indexOf(candidate)]!
  }
}
