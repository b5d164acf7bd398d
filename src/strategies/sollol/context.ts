/** What every scorer sees besides the intent and its candidate: per-decision figures computed once. */
import type { Candidate, NodeModelPerf } from "../../domain/Candidate.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { decodeMsAt, estimate, type Estimate, makeSlowdown, prefillMsAt } from "./completionTime.js"
import type { SollolConfig } from "./config.js"
import type { Occupied } from "./occupancy.js"

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
  /**
   * How many times slower than assumed a candidate without figures of its own has proved so far: the time its
   * longest-running request has taken / the time that request would take at the assumed rates, when above 1 (see
   * `makeTables`). Its rates are divided by this. 1 otherwise.
   */
  readonly latenessOf: (c: Candidate) => number
  /** Smallest and largest `serviceMs` among the candidates. */
  readonly fastestServiceMs: number
  readonly slowestServiceMs: number
  /** The node that last served `intent.affinityKey`, if remembered. */
  readonly affinityNode: NodeId | undefined
}

/** A cost in ms-equivalent; lower is better. */
export type Scorer = (intent: RoutingIntent, candidate: Candidate, ctx: ScoringContext) => number

/** The k-th smallest of the first `n` values of `xs` by quickselect (Hoare), linear on average; reorders `xs`. */
const kth = (xs: Array<number>, n: number, k: number): number => {
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

/** Median of the first `n` values of `xs`; reorders `xs`. */
const medianOf = (xs: Array<number>, n: number): number => {
  const mid = n >> 1
  return n % 2 === 1 ? kth(xs, n, mid) : (kth(xs, n, mid - 1) + kth(xs, n, mid)) / 2
}

/** Above this many candidates with observed figures, the median is taken over this many evenly spaced ones. */
export const MEDIAN_SAMPLE = 63

const observed = (c: Candidate): boolean => c.perf !== undefined && c.perf.samples > 0

/**
 * Per-field median of the candidates' observed figures (`samples > 0`); undefined when none has any. Past
 * `MEDIAN_SAMPLE` observed candidates, of an evenly spaced sample of them: "typical" needs no exact median, and a
 * decision at 1 000 nodes stays linear with a small constant.
 */
export const clusterMedian = (candidates: ReadonlyArray<Candidate>): Omit<Rates, "successRate"> | undefined => {
  let total = 0
  for (const c of candidates) if (observed(c)) total++
  if (total === 0) return undefined
  const size = Math.min(total, MEDIAN_SAMPLE)
  // plain arrays: a small Float64Array costs microseconds to allocate (an off-heap backing store)
  const prefill = new Array<number>(size)
  const decode = new Array<number>(size)
  const load = new Array<number>(size)
  let seen = 0
  let n = 0
  for (const c of candidates) {
    if (!observed(c)) continue
    // the k-th sample is the floor(k × total / size)-th observed candidate
    if (n < size && Math.floor((n * total) / size) === seen) {
      prefill[n] = c.perf!.prefillTps
      decode[n] = c.perf!.decodeTps
      load[n] = c.perf!.loadMs
      n++
    }
    seen++
  }
  return { prefillTps: medianOf(prefill, n), decodeTps: medianOf(decode, n), loadMs: medianOf(load, n) }
}

/**
 * What a node new to the model is assumed to do: as fast as the fastest node observed (or the configured defaults,
 * if faster), with the cluster's typical load time. Optimism in the face of uncertainty: an untried node gets tried,
 * and its first answer corrects the guess; a "typical" guess would tie with a slow node already seen, and a
 * conversation's affinity would then keep it there for good.
 */
export const newcomerRates = (
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig
): Omit<Rates, "successRate"> | undefined => {
  const typical = clusterMedian(candidates)
  if (typical === undefined) return undefined
  let prefillTps = config.defaults.prefillTps
  let decodeTps = config.defaults.decodeTps
  for (const c of candidates) {
    if (!observed(c)) continue
    if (c.perf!.prefillTps > prefillTps) prefillTps = c.perf!.prefillTps
    if (c.perf!.decodeTps > decodeTps) decodeTps = c.perf!.decodeTps
  }
  return { prefillTps, decodeTps, loadMs: typical.loadMs }
}

/**
 * A node that runs its models (partly) in system RAM: `/api/ps` shows less in VRAM than the model's size. Such a
 * node is not assumed as fast as the fastest GPU seen; it starts from the configured defaults.
 */
export const offGpu = (c: Candidate): boolean => c.gpuShare !== undefined && c.gpuShare < 1

/**
 * A candidate's rates, best source first: its own observed figures; else `cluster`, what a node new to the model
 * is assumed to do (`newcomerRates` in a decision), unless the node runs off the GPU (`offGpu`); else its prior
 * (`samples == 0`, from configuration); else `config.defaults`. The success rate is the candidate's own, 1 when
 * unknown.
 */
export const ratesFor = (
  c: Candidate,
  cluster: Omit<Rates, "successRate"> | undefined,
  config: SollolConfig
): Rates => {
  const p: NodeModelPerf | undefined = c.perf
  const optimistic = cluster !== undefined && !offGpu(c)
  if (p !== undefined && (p.samples > 0 || !optimistic)) return p
  const src = optimistic ? cluster : config.defaults
  return { prefillTps: src.prefillTps, decodeTps: src.decodeTps, loadMs: src.loadMs, successRate: p?.successRate ?? 1 }
}

/** A ScoringContext and the per-decision tables behind it, index-aligned with the candidates. */
export interface DecisionTables {
  readonly ctx: ScoringContext
  /** Each candidate's `estimate(…).totalMs`. */
  readonly totals: ReadonlyArray<number>
  /** Each candidate's `estimate(…).serviceMs`. */
  readonly services: ReadonlyArray<number>
  /** Candidates with no free slot (inFlight ≥ slots). */
  readonly saturated: number
  /** Makes candidate `i` the one `estimateOf` and `ratesOf` answer for without a lookup. */
  readonly focus: (i: number) => void
}

export const isSaturated = (c: Candidate): boolean => c.inFlight >= Math.max(1, c.slots)

/**
 * One pass over the candidates: rates, total and service times (no map, no sort, no object kept per candidate),
 * speed bounds and the saturated count. Full estimates are made again, on demand, for the candidates scored.
 */
export const makeTables = (
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig,
  affinityNode: NodeId | undefined,
  /** `makeSlowdown(config.contentionExponent)`, kept by the caller across decisions; a fresh one when absent. */
  slowdownMemo?: (running: number) => number,
  /** What the occupancy knows of the candidates; without it a busy node's wait is the flat guess. */
  occupied?: Occupied
): DecisionTables => {
  // the cluster median is needed only for a candidate without observed figures
  let allObserved = true
  for (const c of candidates) if (!observed(c)) allObserved = false
  const cluster = allObserved ? undefined : newcomerRates(candidates, config)
  // what `ratesFor` gives every candidate without figures of its own, as shared objects
  const unknown: Rates = { ...(cluster ?? config.defaults), successRate: 1 }
  const unknownOffGpu: Rates = { ...config.defaults, successRate: 1 }
  const rates = (c: Candidate): Rates =>
    c.perf !== undefined ? ratesFor(c, cluster, config) : offGpu(c) ? unknownOffGpu : unknown
  // Optimism about a node without figures lasts only until a request there overstays what the assumed rates allow:
  // the node is then at least elapsed / expected times slower, a lower bound that grows while the request runs.
  const latenessAt = (i: number, assumed: Rates): number => {
    const r = occupied?.longest?.[i]
    if (r === undefined || observed(candidates[i]!)) return 1
    const expectedMs = prefillMsAt(r.promptTokens, assumed) + decodeMsAt(r.outputTokens, assumed)
    return expectedMs > 0 && r.elapsedMs > expectedMs ? r.elapsedMs / expectedMs : 1
  }
  const ratesAt = (i: number): Rates => {
    const base = rates(candidates[i]!)
    const late = latenessAt(i, base)
    return late === 1 ? base : { ...base, prefillTps: base.prefillTps / late, decodeTps: base.decodeTps / late }
  }
  const slowdown = slowdownMemo ?? makeSlowdown(config.contentionExponent)
  const n = candidates.length
  const totals = new Array<number>(n)
  const services = new Array<number>(n)
  let fastest = Infinity
  let slowest = 0
  let saturated = 0
  for (let i = 0; i < n; i++) {
    const c = candidates[i]!
    const e = estimate(intent, c, ratesAt(i), config, slowdown, occupied?.waits[i], occupied?.remaining[i])
    totals[i] = e.totalMs
    services[i] = e.serviceMs
    if (e.serviceMs < fastest) fastest = e.serviceMs
    if (e.serviceMs > slowest) slowest = e.serviceMs
    if (isSaturated(c)) saturated++
  }
  // scorers ask about one candidate several times in a row: the focused one is answered from these
  let at = -1
  let atRates: Rates | undefined
  let atEstimate: Estimate | undefined
  const focus = (i: number) => {
    const c = candidates[i]!
    at = i
    atRates = ratesAt(i)
    atEstimate = estimate(intent, c, atRates, config, slowdown, occupied?.waits[i], occupied?.remaining[i])
  }
  // a candidate outside the list (a scorer's unit test) is estimated without known waits
  const estimateOf = (c: Candidate) => {
    const i = candidates.indexOf(c)
    if (i < 0) return estimate(intent, c, rates(c), config, slowdown)
    return estimate(intent, c, ratesAt(i), config, slowdown, occupied?.waits[i], occupied?.remaining[i])
  }
  const ctx: ScoringContext = {
    config,
    ratesOf: (c) => (at >= 0 && candidates[at] === c ? atRates! : rates(c)),
    estimateOf: (c) => (at >= 0 && candidates[at] === c ? atEstimate! : estimateOf(c)),
    latenessOf: (c) => {
      const i = at >= 0 && candidates[at] === c ? at : candidates.indexOf(c)
      return i < 0 ? 1 : latenessAt(i, rates(c))
    },
    fastestServiceMs: Number.isFinite(fastest) ? fastest : 0,
    slowestServiceMs: slowest,
    affinityNode
  }
  return { ctx, totals, services, saturated, focus }
}

export const makeContext = (
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>,
  config: SollolConfig,
  affinityNode: NodeId | undefined
): ScoringContext => makeTables(intent, candidates, config, affinityNode).ctx
