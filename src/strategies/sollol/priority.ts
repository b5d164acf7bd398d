/**
 * Priority alignment: urgent work goes to the fastest nodes even when they are busier; batch work leaves them
 * free for it. Speed here is `serviceMs` (load + prefill + decode, uncontended), not the queue.
 */
import type { Scorer } from "./context.js"

/**
 * - priority ≥ highFrom: cost = highAmplify × (p − highFrom + 1) / (11 − highFrom) × (serviceMs − fastest):
 *   at 10 the speed gap to the fastest candidate counts twice, so a busier fast node beats an idle slow one;
 * - priority ≤ lowTo: cost = (lowTo + 1 − p) / lowTo × min(lowReserve × (slowest − serviceMs),
 *   (lowTolerance − 1) × serviceMs): at 1 a node pays more than its whole speed gap to the slowest candidate, so
 *   batch work goes to slower nodes, but never to one more than `lowTolerance` times slower than this one;
 * - otherwise 0.
 */
export const priority: Scorer = (intent, c, ctx) => {
  const p = ctx.config.priority
  const service = ctx.estimateOf(c).serviceMs
  if (intent.priority >= p.highFrom) {
    const share = (intent.priority - p.highFrom + 1) / (11 - p.highFrom)
    return p.highAmplify * share * (service - ctx.fastestServiceMs)
  }
  if (intent.priority <= p.lowTo) {
    const share = (p.lowTo + 1 - intent.priority) / p.lowTo
    return share * Math.min(p.lowReserve * (ctx.slowestServiceMs - service), (p.lowTolerance - 1) * service)
  }
  return 0
}
