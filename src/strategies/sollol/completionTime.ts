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
  /** queue + load + prefill + decode. */
  readonly totalMs: number
  /** load + prefill + decode at the node's uncontended rates: how fast the node is, not how busy. */
  readonly serviceMs: number
}

/**
 * 1. running = min(inFlight + 1, slots): the streams sharing the node once this one runs;
 * 2. prefill = promptTokens / prefillTps and decode = expectedOutputTokens / decodeTps, each × running^exponent;
 * 3. load = P(model not loaded) × load time (P is 0 or 1 from `/api/ps`);
 * 4. queue = max(0, inFlight − slots + 1) × typical request time / slots, the typical time being the node's
 *    PeakEWMA latency, or this request's own estimate while the node has none.
 */
export const estimate = (intent: RoutingIntent, c: Candidate, rates: Rates, config: SollolConfig): Estimate => {
  const slots = Math.max(1, c.slots)
  const prefill = (intent.promptTokens / Math.max(rates.prefillTps, 1e-9)) * 1000
  const decode = (intent.expectedOutputTokens / Math.max(rates.decodeTps, 1e-9)) * 1000
  const slowdown = Math.min(c.inFlight + 1, slots) ** config.contentionExponent
  const loadMs = c.modelLoaded ? 0 : rates.loadMs
  const prefillMs = prefill * slowdown
  const decodeMs = decode * slowdown
  const typical = c.ewmaMs > 0 ? c.ewmaMs : prefill + decode + loadMs
  const queueMs = (Math.max(0, c.inFlight - slots + 1) * typical) / slots
  return {
    queueMs,
    loadMs,
    prefillMs,
    decodeMs,
    totalMs: queueMs + loadMs + prefillMs + decodeMs,
    serviceMs: loadMs + prefill + decode
  }
}

export const completionTime: Scorer = (_intent, c, ctx) => ctx.estimateOf(c).totalMs
