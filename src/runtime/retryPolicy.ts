/**
 * What may be retried, and how often. Retries happen only before the first byte reached the client, always on a
 * different node, with full-jitter exponential backoff, and within a budget so a sick cluster is not hammered.
 */
import { Clock, Effect, Random } from "effect"
import type { UpstreamError } from "../domain/errors.js"

/** `HttpClient.retryTransient`'s list: request timeout, too many requests, and the 5xx that mean "try elsewhere". */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

/**
 * The `Retry-After` a node's "server busy" 503 (or 429) gets when the gateway relays it, however it is relayed:
 * Ollama sends none, and the OpenAI SDKs back off by it.
 */
export const BUSY_RETRY_AFTER_SECONDS = 1

/** Transport failures and timeouts before the first byte, and the retryable statuses. */
export const isRetryable = (error: UpstreamError): boolean =>
  error.reason === "StatusCode" ? error.status !== undefined && RETRYABLE_STATUSES.has(error.status) : true

/** Full jitter (AWS architecture blog): uniform in [0, base × 2^(attempt−1)], capped at 2 s. */
export const backoff = (attempt: number, baseMs: number) =>
  Effect.flatMap(Random.next, (r) => Effect.sleep(Math.min(2_000, baseMs * 2 ** (attempt - 1)) * r))

export interface RetryBudgetConfig {
  /** Retries allowed per request in the window. Default 0.2. */
  readonly ratio: number
  /** Retries per second always allowed. Default 10. */
  readonly minPerSecond: number
  /** Window length in ms. Default 10 000. */
  readonly windowMs?: number
}

export interface RetryBudget {
  /** Counts one original request. */
  readonly deposit: Effect.Effect<void>
  /** Takes one retry if the budget allows; false means "do not retry". */
  readonly withdraw: Effect.Effect<boolean>
}

/**
 * linkerd/Finagle retry budget over a sliding window of one-second buckets:
 * allowed = minPerSecond × window + ratio × requests in the window; retries in the window must stay below it.
 */
export const makeRetryBudget = (config: RetryBudgetConfig): Effect.Effect<RetryBudget> =>
  Effect.sync(() => {
    const windowSeconds = Math.max(1, Math.round((config.windowMs ?? 10_000) / 1_000))
    const requests = new Array<number>(windowSeconds).fill(0)
    const retries = new Array<number>(windowSeconds).fill(0)
    let currentSecond = -1
    const roll = (nowMs: number) => {
      const second = Math.floor(nowMs / 1_000)
      if (currentSecond === -1) currentSecond = second
      const steps = Math.min(windowSeconds, second - currentSecond)
      for (let i = 1; i <= steps; i++) {
        const slot = (currentSecond + i) % windowSeconds
        requests[slot] = 0
        retries[slot] = 0
      }
      if (second > currentSecond) currentSecond = second
      return currentSecond % windowSeconds
    }
    const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
    return {
      deposit: Effect.map(Clock.currentTimeMillis, (now) => {
        requests[roll(now)]! += 1
      }),
      withdraw: Effect.map(Clock.currentTimeMillis, (now) => {
        const slot = roll(now)
        const allowed = config.minPerSecond * windowSeconds + config.ratio * sum(requests)
        if (sum(retries) + 1 > allowed) return false
        retries[slot]! += 1
        return true
      })
    }
  })
