/**
 * One attempt on one chosen node: dispatch under the route class's time limits, then classify the outcome
 * (node failure, model-load failure, "server busy", client error, success) and record it where it belongs: the
 * node's machine, the (node, model) breaker, the busy back-off, the learning store.
 */
import { Context, Effect, Exit, Option } from "effect"
import type { Runtime } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { Strategy } from "../strategies/Strategy.js"
import { AdmissionTag } from "./Admission.js"
import type { Admission } from "./Admission.js"
import type { ClientSink } from "./ClientSink.js"
import { DecisionLog } from "./DecisionLog.js"
import { LearningStore } from "./LearningStore.js"
import type { Reservation, ScoringServices } from "./pick.js"
import { latencyKey, routingHeaders, routingInfo } from "./progress.js"
import type { AttemptFailure, AttemptOptions, Progress } from "./progress.js"
import { isModelLoadFailure, isServerBusy, Reliability } from "./Reliability.js"
import { errorTextOf, makeCollector, makeTailTracker, passThrough, responseHeaders, unfinishedStream, withRoutingInfo } from "./respond.js"
import { BUSY_RETRY_AFTER_SECONDS, RETRYABLE_STATUSES } from "./retryPolicy.js"
import type { RetryBudget } from "./retryPolicy.js"
import { describeUpstreamError, makeActivity, timeoutClassOf, withTimeouts } from "./timeouts.js"
import { parseTimings, timingsOfBody } from "./timings.js"
import type { WorkflowServices } from "./workflow.js"
import { RetryBudgetTag, WorkflowConfig } from "./workflowConfig.js"
import type { WorkflowSettings } from "./workflowConfig.js"

const failureOf = (exit: Exit.Exit<void, UpstreamError>): UpstreamError | undefined =>
  Exit.isSuccess(exit) ? undefined : Option.getOrUndefined(Exit.causeOption(exit).pipe(
    Option.flatMap((c) => Option.fromNullable(c._tag === "Fail" ? c.error : undefined))
  ))

/** What an attempt needs, resolved once per request (a look-up per attempt would cost more than the attempt). */
export interface AttemptContext {
  readonly settings: WorkflowSettings
  readonly scoring: ScoringServices
  readonly admission: Admission
  readonly decisions: DecisionLog["Type"]
  readonly budget: RetryBudget
}

export const attemptContext: Effect.Effect<AttemptContext, never, WorkflowServices> = Effect.map(
  Effect.zip(Effect.runtime<WorkflowServices>(), Effect.clock),
  ([runtime, clock]) => ({
    settings: Context.get(runtime.context, WorkflowConfig),
    admission: Context.get(runtime.context, AdmissionTag),
    decisions: Context.get(runtime.context, DecisionLog),
    budget: Context.get(runtime.context, RetryBudgetTag),
    scoring: {
      registry: Context.get(runtime.context, NodeRegistry),
      strategy: Context.get(runtime.context, Strategy),
      learning: Context.get(runtime.context, LearningStore),
      reliability: Context.get(runtime.context, Reliability),
      runtime: runtime as Runtime.Runtime<never>,
      clock
    }
  })
)

/** Where a failed or refused answer is recorded: never the node machine for a model-load failure or "busy". */
const recordFailure = (ctx: AttemptContext, handle: NodeHandle, intent: RoutingIntent, status: number, text: string | undefined) => {
  const { registry, reliability, clock } = ctx.scoring
  const now = clock.unsafeCurrentTimeMillis()
  if (status === 404) return Effect.ignore(registry.refreshModels(handle.nodeId))
  if (isModelLoadFailure(text)) {
    const cooldown = reliability.modelFailed(handle.nodeId, intent.model, now)
    return cooldown !== undefined ? reliability.after(cooldown, ctx.admission.notify) : Effect.void
  }
  if (isServerBusy(status)) {
    reliability.markBusy(handle.nodeId, now)
    return reliability.after(reliability.config.busyBackoffMs, ctx.admission.notify)
  }
  if (status === 429 || status < 500) return Effect.void
  return handle.report({ ok: false, reason: `status ${status}${text !== undefined ? `: ${text.slice(0, 200)}` : ""}` })
}

/**
 * Dispatch under the class's limits: retryable statuses and non-streaming bodies are held back, a streaming 2xx
 * is committed to the client at once; then the outcome is classified and recorded. A committed stream that
 * breaks ends with an explicit error, not a retry.
 */
export const dispatch = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  tried: Set<NodeId>,
  options: AttemptOptions,
  reservation: Extract<Reservation, { _tag: "Picked" }>
): Effect.Effect<true, AttemptFailure> => {
  const { settings } = ctx
  const { clock, learning, reliability, strategy } = ctx.scoring
  const { handle, pick } = reservation
  const startedAt = clock.unsafeCurrentTimeMillis()
  tried.add(handle.nodeId)
  progress.attempts += 1
  progress.pick = pick
  progress.node = handle.nodeId
  const concurrency = handle.load.inFlightNow()

  const tail = makeTailTracker()
  const held = makeCollector()
  const activity = makeActivity(startedAt)
  const state: { mode: "held-error" | "held-body" | "stream"; status: number; head: UpstreamHead | undefined } = {
    mode: "stream",
    status: 0,
    head: undefined
  }
  let firstChunkAt: number | undefined
  const accept = (head: UpstreamHead): BodySink => {
    activity.headAt = activity.lastAt = clock.unsafeCurrentTimeMillis()
    state.status = head.status
    state.head = head
    const retryable = RETRYABLE_STATUSES.has(head.status) || head.status === 404
    state.mode = retryable && !options.lastChance ? "held-error" : !intent.stream || head.status >= 300 ? "held-body" : "stream"
    if (state.mode !== "stream") {
      return { write: (chunk) => {
        activity.lastAt = clock.unsafeCurrentTimeMillis()
        held.sink.write(chunk)
      } }
    }
    if (!options.claim()) return { write: () => undefined }
    progress.committed = true
    progress.status = head.status
    client.start(head.status, responseHeaders(head, routingHeaders(intent, progress)))
    const through = passThrough(client, tail, () => {
      firstChunkAt = clock.unsafeCurrentTimeMillis()
    })
    return {
      ...through,
      write: (chunk) => {
        activity.lastAt = clock.unsafeCurrentTimeMillis()
        return through.write(chunk)
      }
    }
  }

  const cls = timeoutClassOf(intent.kind)
  const limits = settings.timeouts[cls]
  const sendOptions = { firstByteTimeoutMs: limits.firstByteMs, idleTimeoutMs: limits.idleMs, totalTimeoutMs: limits.totalMs }
  const send = handle.upstream.send(intent.upstream, accept, sendOptions)
  const guarded = withTimeouts(send, handle.nodeId, activity, limits, cls, handle.upstream.enforcesTimeouts === true)

  /**
   * A transport failure, a timeout or a stream that did not finish: the node's failure; after the first byte the
   * stream ends with an error (unless the node's own error line already ended it).
   */
  const failed = (error: UpstreamError, endedByNode = false): Effect.Effect<true, UpstreamError> => {
    const now = clock.unsafeCurrentTimeMillis()
    learning.observeAt({ nodeId: handle.nodeId, model: intent.model, taskType: intent.taskType, ok: false, concurrency }, now)
    return Effect.flatMap(handle.report({ ok: false, reason: error.message }), () => {
      if (state.mode !== "stream" || !progress.committed) return Effect.fail(error)
      // After the first byte: no retry; the stream ends with an explicit error.
      if (endedByNode) client.end()
      else client.fail(`upstream failed mid-stream: ${describeUpstreamError(error)}`)
      progress.lastError = error
      progress.brokenStream = true
      return Effect.succeed(true as const)
    })
  }

  /** The node answered: record what it says about itself, then relay (or hold back for a retry). */
  const answered = (): Effect.Effect<true, AttemptFailure> => {
    const now = clock.unsafeCurrentTimeMillis()
    const status = state.status
    if (status >= 500 || status === 429 || status === 408 || status === 404) {
      const text = state.mode === "stream" ? undefined : errorTextOf(held.bytes())
      const recorded = recordFailure(ctx, handle, intent, status, text)
      if (state.mode === "held-error") {
        const error = new UpstreamError({ nodeId: handle.nodeId, reason: "StatusCode", status, ...(text !== undefined ? { detail: text } : {}) })
        return Effect.zipRight(recorded, Effect.fail(error))
      }
      return Effect.zipRight(recorded, Effect.suspend(relay))
    }
    const unfinished = state.mode === "stream" && status < 300 ? unfinishedStream(client.framing === "sse", tail) : undefined
    if (unfinished !== undefined) {
      const reason = unfinished.relayed ? "StreamError" : "Truncated"
      return failed(new UpstreamError({ nodeId: handle.nodeId, reason, detail: unfinished.detail }), unfinished.relayed)
    }
    // Success from the node's point of view (a 4xx is the client's fault, not the node's). The answer goes out
    // first; what the node's answer teaches is recorded right after, off the client's critical path.
    const latencyMs = now - startedAt
    const sent = relay()
    const timings = state.mode === "stream"
      ? parseTimings(tail.lastJson())
      : status < 300 ? timingsOfBody(held.bytes()) : undefined
    if (timings !== undefined) progress.outputTokens = timings.evalCount
    handle.succeeded(latencyMs)
    handle.load.observeAt(latencyMs, now)
    reliability.modelSucceeded(handle.nodeId, intent.model)
    if (!intent.stream && status < 300) reliability.recordLatency(latencyKey(intent), latencyMs)
    learning.observeAt({
      nodeId: handle.nodeId,
      model: intent.model,
      taskType: intent.taskType,
      timings,
      ok: true,
      ttftMs: progress.ttftMs,
      concurrency
    }, now)
    return sent
  }

  /** Ends a committed stream, or sends the held answer if this attempt wins the claim. */
  const relay = (): Effect.Effect<true> => {
    if (state.mode === "stream") {
      if (progress.committed) client.end()
      return Effect.succeed(true)
    }
    const status = state.status
    // From the claim to the last write there is no yield point, so a losing hedge cannot cut this answer short.
    // A finished attempt that lost the claim waits to be interrupted by the winner's completion.
    if (!options.claim()) return Effect.never
    const head = state.head ?? { status, headers: {} }
    progress.status = status
    progress.committed = true
    progress.node = handle.nodeId
    progress.pick = pick
    const body = held.bytes()
    const durationMs = clock.unsafeCurrentTimeMillis() - intent.arrivedAt
    const out = settings.includeRoutingInfo && status < 300
      ? withRoutingInfo(body, routingInfo(intent, progress, strategy.name, durationMs))
      : body
    const headers = responseHeaders(head, routingHeaders(intent, progress))
    headers["content-length"] = String(out.byteLength)
    if (status === 503 || status === 429) headers["retry-after"] ??= String(BUSY_RETRY_AFTER_SECONDS)
    client.start(status, headers)
    client.end(out)
    return Effect.succeed(true)
  }

  const settle = (exit: Exit.Exit<void, UpstreamError>): Effect.Effect<true, AttemptFailure> => {
    progress.ttftMs = firstChunkAt !== undefined ? firstChunkAt - activity.sentAt : undefined
    if (Exit.isSuccess(exit)) return answered()
    const error = failureOf(exit)
    return error !== undefined ? failed(error) : Effect.failCause(exit.cause)
  }
  return Effect.flatMap(Effect.exit(guarded), settle)
}
