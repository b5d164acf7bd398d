/** What every scorer sees besides the intent and its candidate: per-decision figures computed once. */
import type { Candidate, NodeModelPerf } from "../../domain/Candidate.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { estimate, type Estimate } from "./completionTime.js"
import type { SollolConfig } from "./config.js"

/** The rates a candidate is scored with (see `ratesFor`). */
export interface Rates {
  readonly prefillTps: number
  readonly decodeTps: number
  readonly loadMs: number
  readonly successRate: number
}

export interface ScoringContext {
  readonly config: SollolConfig
  readonly ratesOf: (c: Candidate) => Rates
  readonly estimateOf: (c: Candidate) => Estimate
  /** Smallest and largest `serviceMs` among the candidates. */
  readonly fastestServiceMs: number
  readonly slowestServiceMs: number
  /** The node that last served `intent.affinityKey`, if remembered. */
  readonly affinityNode: NodeId | undefined
}

/** A cost in ms-equivalent; lower is better. */
export type Scorer = (intent: RoutingIntent, candidate: Candidate, ctx: ScoringContext) => number

/** Median of the first `n` values of `xs` by quickselect (Hoare), linear on average; reorders `xs`. */
const medianOf = (xs: Float64Array, n: number): number => {
  const kth = (k: number): number => {
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const pivot = xs[(lo + hi) >> 1]!
      let i = lo
      let j = hi
      while (i <= j) {
        while (xs[i]! < pivot) i++
        while (xs[j]! > pivot) j--
        if (i <= j) {
          const t = xs[i]!
          xs[i++] = xs[j]!
          xs[j--] = t
        }
      }
      if (k <= j) hi = j
      else if (k >= i) lo = i
      else return xs[k]!
    }
    return xs[k]!
  }
  const mid = n >> 1
  return n % 2 === 1 ? kth(mid) : (kth(mid - 1) + kth(mid)) / 2
}

/** Per-field median of the candidates' observed figures (`samples > 0`); undefined when none has any. */
export const clusterMedian = (candidates: ReadonlyArray<Candidate>): Omit<Rates, "successRate"> | undefined => {
  const prefill = new Float64Array(candidates.length)
  const decode = new Float64Array(candidates.length)
  const load = new Float64Array(candidates.length)
  let n = 0
  for (const c of candidates) {
    if (c.perf === undefined || c.perf.samples <= 0) continue
    prefill[n] = c.perf.prefillTps
    decode[n] = c.perf.decodeTps
    load[n] = c.perf.loadMs
    n++
  }
  if (n === 0) return undefined
  return { prefillTps: medianOf(prefill, n), decodeTps: medianOf(decode, n), loadMs: medianOf(load, n) }
}

/**
 * A candidate's rates, best source first: its own observed figures; else the cluster median of observed ones
 * (a node new to the model is assumed typical); else its prior (`samples == 0`, from configuration); else
 * `config.defaults`. The success rate is the candidate's own, 1 when unknown.
 */
export const ratesFor = (
  c: Candidate,
  cluster: Omit<Rates, "successRate"> | undefined,
  config: SollolConfig
): Rates => {
  const p: NodeModelPerf | undefined = c.perf
  if (p !== undefined && (p.samples > 0 || cluster === undefined)) return p
  const src = cluster ?? config.defaults
  return { prefillTps: src.prefillTps, decodeTps: src.decodeTps, loadMs: src.loadMs, successRate: p?.successRate ?? 1 }
}

export const makeContext = (
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig,
  affinityNode: NodeId | undefined
): ScoringContext => {
  // the cluster median is needed only for a candidate without observed figures
  const cluster = candidates.some((c) => c.perf === undefined || c.perf.samples <= 0)
    ? clusterMedian(candidates)
    : undefined
  const estimates = new Map<Candidate, Estimate>()
  let fastest = Infinity
  let slowest = 0
  for (const c of candidates) {
    const e = estimate(intent, c, ratesFor(c, cluster, config), config)
    estimates.set(c, e)
    if (e.serviceMs < fastest) fastest = e.serviceMs
    if (e.serviceMs > slowest) slowest = e.serviceMs
  }
  // scorers ask about one candidate several times in a row: remember the last lookup
  let last: Candidate | undefined
  let lastEstimate: Estimate | undefined
  const estimateOf = (c: Candidate): Estimate => {
    if (c === last && lastEstimate !== undefined) return lastEstimate
    last = c
    lastEstimate = estimates.get(c) ?? estimate(intent, c, ratesFor(c, cluster, config), config)
    return lastEstimate
  }
  return {
    config,
    ratesOf: (c) => ratesFor(c, cluster, config),
    estimateOf,
    fastestServiceMs: Number.isFinite(fastest) ? fastest : 0,
    slowestServiceMs: slowest,
    affinityNode
  }
}
