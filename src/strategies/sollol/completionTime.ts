/**
 * Expected completion time of a request on a node (DESIGN.md §2 step 4): the core of `sollol`. Everything else is
 * a correction to it, in the same unit (ms).
 */
import type { Candidate } from "../../domain/Candidate.js"
import type { RoutingIntent } from "../../domain/Request.js"
import type { SollolConfig } from "./config.js"
import type { Rates, Scorer } from "./context.js"

export interface Estimate {
  readonly queueMs: number
  readonly loadMs: number
  readonly prefillMs: number
  readonly decodeMs: number
  /** The delay this request's stream adds to the requests already running there, × `contentionWeight`. */
  readonly othersMs: number
  /** queue + load + prefill + decode + others. */
  readonly totalMs: number
  /** load + prefill + decode at the node's uncontended rates: how fast the node is, not how busy. */
  readonly serviceMs: number
}

/**
 * 1. running = min(inFlight + 1, slots): the streams sharing the node once this one runs;
 * 2. prefill = promptTokens / prefillTps and decode = expectedOutputTokens / decodeTps, each × running^exponent;
 * 3. load = P(model not loaded) × load time (P is 0 or 1 from `/api/ps`);
 * 4. queue = the known wait for a slot when given (occupancy.ts), else max(0, inFlight − slots + 1) × typical
 *    request time / slots, the typical time being the node's PeakEWMA latency, or this request's own estimate
 *    while the node has none;
 * 5. others = contentionWeight × (running^e / (running − 1)^e − 1) × the running requests' expected remaining time:
 *    one more stream slows every stream already there (only when that remaining time is known).
 */
const slowdownFor = (running: number, config: SollolConfig, slowdownOf?: (running: number) => number): number =>
  slowdownOf === undefined ? running ** config.contentionExponent : slowdownOf(running)

/** ms to prefill `tokens` prompt tokens at `rates` (one stream, nothing else running). */
export const prefillMsAt = (tokens: number, rates: Pick<Rates, "prefillTps">): number =>
  (tokens / Math.max(rates.prefillTps, 1e-9)) * 1000

/** ms to generate `tokens` output tokens at `rates` (one stream, nothing else running). */
export const decodeMsAt = (tokens: number, rates: Pick<Rates, "decodeTps">): number =>
  (tokens / Math.max(rates.decodeTps, 1e-9)) * 1000

export const estimate = (
  intent: RoutingIntent,
  c: Candidate,
  rates: Rates,
  config: SollolConfig,
  /** running^contentionExponent, e.g. `makeSlowdown`'s memo; computed directly when absent. */
  slowdownOf?: (running: number) => number,
  /** The wait for a slot when known (see occupancy.ts); else step 4's flat guess. */
  knownWaitMs?: number,
  /** Expected remaining ms of the requests running on the node, summed (occupancy.ts); step 5 needs it. */
  othersRemainingMs?: number
): Estimate => {
  const slots = Math.max(1, c.slots)
  const prefill = prefillMsAt(intent.promptTokens, rates)
  const decode = decodeMsAt(intent.expectedOutputTokens, rates)
  const running = Math.min(c.inFlight + 1, slots)
  const slowdown = slowdownFor(running, config, slowdownOf)
  const loadMs = c.modelLoaded ? 0 : rates.loadMs
  const prefillMs = prefill * slowdown
  const decodeMs = decode * slowdown
  const typical = c.ewmaMs > 0 ? c.ewmaMs : prefill + decode + loadMs
  const queueMs = knownWaitMs ?? (Math.max(0, c.inFlight - slots + 1) * typical) / slots
  // step 5: the others share the node with one more stream for (at most) the rest of their time
  const others = running - 1
  const othersMs = others <= 0 || othersRemainingMs === undefined || config.contentionWeight === 0
    ? 0
    : config.contentionWeight * (slowdown / slowdownFor(others, config, slowdownOf) - 1) *
      othersRemainingMs * Math.min(1, others / Math.max(c.inFlight, 1))
  return {
    queueMs,
    loadMs,
    prefillMs,
    decodeMs,
    othersMs,
    totalMs: queueMs + loadMs + prefillMs + decodeMs + othersMs,
    serviceMs: loadMs + prefill + decode
  }
}

/** running^exponent, remembered for the first 64 values of `running` (one decision asks for a few only). */
export const makeSlowdown = (exponent: number): (running: number) => number => {
  const memo = new Float64Array(65)
  return (running) => {
    if (running > 64 || running < 0) return running ** exponent
    const known = memo[running]!
    if (known > 0) return known
    const value = running ** exponent
    memo[running] = value
    return value
  }
}

export const completionTime: Scorer = (_intent, c, ctx) => ctx.estimateOf(c).totalMs
