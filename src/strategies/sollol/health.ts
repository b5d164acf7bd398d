/**
 * Health penalty: Envoy's degraded hosts still serve but are penalised; probation and recent failures cost the
 * expected waste of a failed attempt. A fraction of the candidate's own completion time, so it scales with the work.
 */
import type { Scorer } from "./context.js"

/**
 * cost = max(completion, minBaseMs) × (degraded + probation + perFailure × min(recentFailures, maxFailures)
 *        + failureRate × (1 − successRate)), each term from `config.health` and present only when it applies.
 */
export const health: Scorer = (_intent, c, ctx) => {
  const h = ctx.config.health
  const fraction = (c.health === "degraded" ? h.degraded : 0) +
    (c.health === "recovering" ? h.probation : 0) +
    h.perFailure * Math.min(Math.max(c.recentFailures, 0), h.maxFailures) +
    h.failureRate * (1 - Math.min(Math.max(ctx.ratesOf(c).successRate, 0), 1))
  return fraction === 0 ? 0 : Math.max(ctx.estimateOf(c).totalMs, h.minBaseMs) * fraction
}
