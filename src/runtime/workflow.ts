/**
 * One request's way through the cluster: admit (wait for a slot, by priority) → score → dispatch → retry →
 * record; an unload goes to every node that has the model instead (unload.ts). One fiber per request; response bytes stay outside Effect (see respond.ts). Every slot is released when
 * its attempt exits, so success, failure, timeout, hedge loss and client abort all give it back.
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeId } from "../domain/NodeId.js"
import { InternalError, ShuttingDown } from "../domain/errors.js"
import type { GatewayError } from "../domain/errors.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { Strategy } from "../strategies/Strategy.js"
import type { AdmissionTag } from "./Admission.js"
import { attempt, attemptContext, latencyKey, makeProgress, routingHeaders } from "./attempt.js"
import type { AttemptContext, AttemptFailure, Progress } from "./attempt.js"
import type { ClientSink } from "./ClientSink.js"
import type { DecisionLog, DecisionRecord } from "./DecisionLog.js"
import type { LearningStore } from "./LearningStore.js"
import type { Reliability } from "./Reliability.js"
import { backoff, isRetryable } from "./retryPolicy.js"
import { unloadEverywhere } from "./unload.js"
import type { RetryBudgetTag, WorkflowConfig } from "./workflowConfig.js"

export { RetryBudgetTag, WorkflowConfig } from "./workflowConfig.js"
export type { WorkflowSettings } from "./workflowConfig.js"

export type WorkflowServices =
  | NodeRegistry
  | Strategy
  | AdmissionTag
  | LearningStore
  | DecisionLog
  | WorkflowConfig
  | RetryBudgetTag
  | Reliability

/** Whether a failed attempt may be tried again on another node (never after the first byte: see attempt.ts). */
export const shouldRetry = (error: AttemptFailure): boolean =>
  error._tag === "UpstreamError" && (isRetryable(error) || (error.reason === "StatusCode" && error.status === 404))

/**
 * The first attempt, hedged when enabled for a non-streaming request with enough latency samples: after the
 * observed p95 of its (model, kind), a second attempt starts on another node if one has a free slot now. The
 * first answer wins; the loser is interrupted, which aborts its upstream request and releases its slot.
 */
const firstAttempt = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  tried: Set<NodeId>,
  lastChance: boolean,
  claim: () => boolean
) => {
  const primary = attempt(ctx, intent, client, progress, tried, { lastChance, admission: "queue", claim })
  const p95 = ctx.settings.hedging && !intent.stream ? ctx.scoring.reliability.quantile(latencyKey(intent), 0.95) : undefined
  if (p95 === undefined) return primary
  const hedge = Effect.sleep(Math.max(1, p95)).pipe(
    Effect.zipRight(Effect.suspend(() => {
      progress.hedged = true
      return attempt(ctx, intent, client, progress, tried, { lastChance, admission: "immediate", claim })
    }))
  )
  return Effect.race(primary, hedge)
}

/** Attempts until one answers, retrying on another node while the policy and the retry budget allow. */
const attempts = (ctx: AttemptContext, intent: RoutingIntent, client: ClientSink, progress: Progress) => {
  const tried = new Set<NodeId>()
  let answered = false
  const claim = () => answered ? false : (answered = true)
  const from = (n: number): Effect.Effect<void, AttemptFailure> => {
    const lastChance = n >= ctx.settings.maxAttempts
    const once = n === 1
      ? firstAttempt(ctx, intent, client, progress, tried, lastChance, claim)
      : attempt(ctx, intent, client, progress, tried, { lastChance, admission: "queue", claim })
    return Effect.catchAll(once, (error) => {
      // Every node was tried: the last node's own failure says more than "no candidates". So it does when the
      // model vanished with the node that failed (removed from the cluster): that node had it, so not a 404.
      const last = progress.lastError
      if (last?._tag === "UpstreamError") {
        if (error._tag === "NoCandidates" && error.reason === "AllTried") return Effect.fail(last)
        if (error._tag === "ModelNotFound" && last.reason !== "StatusCode") return Effect.fail(last)
        // the other nodes are as busy as the one that just said so: its own answer goes back
        if (error._tag === "QueueFull" && error.reason === "NodesBusy" && last.status === 503) return Effect.fail(last)
      }
      progress.lastError = error
      if (lastChance || !shouldRetry(error)) return Effect.fail(error)
      return Effect.flatMap(ctx.budget.withdraw, (allowed) =>
        allowed ? Effect.zipRight(backoff(n, ctx.settings.retryBackoffMs), from(n + 1)) : Effect.fail(error))
    })
  }
  return from(1)
}

/** The record step: the decision as the client saw it, for the log, the metrics and the event stream. */
const record = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  exit: Exit.Exit<void, AttemptFailure>
) => {
  // interrupted because the client left, not because the gateway cut the request (shutdown)
  const cutReason = client.cutReason?.()
  const interrupted = Exit.isInterrupted(exit) && cutReason === undefined
  if (cutReason !== undefined && Exit.isInterrupted(exit)) {
    // the cutter answers the client: 503 before the first byte, else an error line after what was sent
    progress.lastError = new ShuttingDown()
    if (!progress.committed) progress.status = 503
  }
  if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) {
    const error: GatewayError = Option.getOrElse(
      Cause.failureOption(exit.cause),
      () => new InternalError({ message: `internal error: ${Cause.pretty(exit.cause).split("\n")[0] ?? "defect"}` })
    )
    progress.lastError = error
    if (!progress.committed) {
      // The decision records the status the client got, also when the gateway answered itself.
      const sent = client.reject(error, routingHeaders(intent, progress))
      if (typeof sent === "number") progress.status = sent
    } else if (error._tag === "InternalError") {
      // a defect after the first byte: the stream still ends with an explicit error
      client.fail(error.message)
    }
  }
  const failed = Exit.isFailure(exit) || progress.brokenStream
  const decision: DecisionRecord = {
    requestId: intent.requestId,
    at: intent.arrivedAt,
    kind: intent.kind,
    model: intent.model,
    taskType: intent.taskType,
    complexity: intent.complexity,
    priority: intent.priority,
    strategy: ctx.scoring.strategy.name,
    node: progress.node ?? null,
    score: progress.pick?.score ?? null,
    factors: progress.pick?.factors ?? [],
    candidates: progress.pick?.scored ?? [],
    reasoning: progress.pick?.reasoning ?? "",
    queueWaitMs: progress.queueWaitMs,
    attempts: progress.attempts,
    hedged: progress.hedged,
    outcome: interrupted ? "aborted" : failed ? "error" : "ok",
    status: progress.status,
    // what the client read: the cut's own words after the first byte, else the error it was answered with
    error: cutReason !== undefined && progress.committed ? cutReason : progress.lastError?.message,
    durationMs: ctx.scoring.clock.unsafeCurrentTimeMillis() - intent.arrivedAt,
    ttftMs: progress.ttftMs,
    outputTokens: progress.outputTokens
  }
  return Effect.as(ctx.decisions.record(decision), decision)
}

/**
 * Runs one request to the end, writing its answer (or its error) to `client`, and returns its decision record.
 * Never fails; interrupted when the client left. Only the attempts can be interrupted: a request the client
 * abandoned is still recorded (as "aborted") before the interruption goes on. No span: it is the hot path.
 */
export const handle = (intent: RoutingIntent, client: ClientSink): Effect.Effect<DecisionRecord, never, WorkflowServices> =>
  Effect.flatMap(attemptContext, (ctx) => {
    const progress = makeProgress()
    return Effect.uninterruptibleMask((restore) =>
      ctx.budget.deposit.pipe(
        Effect.zipRight(Effect.exit(restore(
          intent.unloadOnly ? unloadEverywhere(ctx, intent, client, progress) : attempts(ctx, intent, client, progress)
        ))),
        Effect.flatMap((exit) =>
          Effect.tap(record(ctx, intent, client, progress, exit), () => Exit.isInterrupted(exit) ? Effect.interrupt : Effect.void)
        )
      )
    )
  })
