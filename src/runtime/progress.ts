/**
 * What a request's attempts learned, and how it is shown to the client: the progress record the decision is built
 * from, the X-SOLLOL-* headers and the `_sollol_routing` member.
 */
import type { Pick } from "../domain/Decision.js"
import type { GatewayError, ModelNotFound, NoCandidates, QueueFull, UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { ResponseHeaders } from "./ClientSink.js"

/** What the attempts learned; the decision record is built from it. */
export interface Progress {
  attempts: number
  pick: Pick | undefined
  node: NodeId | undefined
  queueWaitMs: number
  ttftMs: number | undefined
  /** `eval_count` of the answer, when the node reported it. */
  outputTokens: number | undefined
  status: number
  committed: boolean
  /** The stream to the client was cut by a node failure after its first byte (and ended with an error). */
  brokenStream: boolean
  hedged: boolean
  lastError: GatewayError | undefined
}

export const makeProgress = (): Progress => ({
  attempts: 0,
  pick: undefined,
  node: undefined,
  queueWaitMs: 0,
  ttftMs: undefined,
  outputTokens: undefined,
  status: 0,
  committed: false,
  brokenStream: false,
  hedged: false,
  lastError: undefined
})

/** An attempt that did not answer the client: retry elsewhere if allowed. */
export type AttemptFailure = UpstreamError | NoCandidates | ModelNotFound | QueueFull

export interface AttemptOptions {
  /** No retry may follow: relay the node's answer whatever its status. */
  readonly lastChance: boolean
  /** `queue` waits for a slot by priority; `immediate` (a hedge) takes a free slot now or gives up. */
  readonly admission: "queue" | "immediate"
  /** Claims the right to answer the client; false when another attempt (a hedge) already answered. */
  readonly claim: () => boolean
}

export const routingHeaders = (intent: RoutingIntent, progress: Progress): ResponseHeaders => {
  const headers: ResponseHeaders = { "x-sollol-request-id": intent.requestId }
  if (progress.node !== undefined) headers["x-sollol-node"] = progress.node
  headers["x-sollol-attempts"] = String(progress.attempts)
  headers["x-sollol-task-type"] = intent.taskType
  if (progress.hedged) headers["x-sollol-hedged"] = "true"
  if (progress.pick !== undefined) {
    headers["x-sollol-score"] = progress.pick.score.toFixed(3)
    headers["x-sollol-reasoning"] = headerSafe(progress.pick.reasoning)
  }
  return headers
}

/** A header value: printable ASCII only, at most 300 characters. */
const headerSafe = (text: string) => {
  const short = text.length > 300 ? text.slice(0, 300) : text
  return /^[\x20-\x7e]*$/.test(short) ? short : short.replace(/[^\x20-\x7e]/g, "?")
}

export const routingInfo = (intent: RoutingIntent, progress: Progress, strategy: string, durationMs: number) => ({
  request_id: intent.requestId,
  node: progress.node ?? null,
  strategy,
  task_type: intent.taskType,
  complexity: intent.complexity,
  priority: intent.priority,
  score: progress.pick?.score ?? null,
  factors: Object.fromEntries((progress.pick?.factors ?? []).map((f) => [f.name, f.value])),
  reasoning: progress.pick?.reasoning ?? "",
  queue_wait_ms: progress.queueWaitMs,
  attempts: progress.attempts,
  hedged: progress.hedged,
  duration_ms: durationMs
})

/** Latency key of the hedging quantiles. */
export const latencyKey = (intent: RoutingIntent) => `${intent.model}\u0000${intent.kind}`
