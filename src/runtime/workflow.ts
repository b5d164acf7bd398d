/**
 * One request's way through the cluster: admit (wait for a slot, by priority) → score → dispatch → retry →
 * record. One fiber per request; response bytes stay outside Effect (see respond.ts). Every slot is held in a
 * scope, so success, failure, timeout, hedge loss and client abort all give it back.
 */
import { Clock, Effect, Exit, Option } from "effect"
import type { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import { Strategy } from "../strategies/Strategy.js"
import type { AdmissionTag } from "./Admission.js"
import { attempt, latencyKey, makeProgress, routingHeaders } from "./attempt.js"
import type { AttemptFailure, Progress } from "./attempt.js"
import type { ClientSink } from "./ClientSink.js"
import { DecisionLog } from "./DecisionLog.js"
import type { LearningStore } from "./LearningStore.js"
import { Reliability } from "./Reliability.js"
import { backoff, isRetryable } from "./retryPolicy.js"
import { RetryBudgetTag, WorkflowConfig } from "./workflowConfig.js"

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
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  tried: Set<NodeId>,
  lastChance: boolean,
  claim: () => boolean
) =>
  Effect.gen(function*() {
    const settings = yield* WorkflowConfig
    const reliability = yield* Reliability
    const primary = attempt(intent, client, progress, tried, { lastChance, admission: "queue", claim })
    const p95 = settings.hedging && !intent.stream ? reliability.quantile(latencyKey(intent), 0.95) : undefined
    if (p95 === undefined) return yield* primary
    const hedge = Effect.sleep(Math.max(1, p95)).pipe(
      Effect.zipRight(Effect.suspend(() => {
        progress.hedged = true
        return attempt(intent, client, progress, tried, { lastChance, admission: "immediate", claim })
      }))
    )
    return yield* Effect.race(primary, hedge)
  })

/** Runs one request to the end, writing its answer (or its error) to `client`. Never fails. No span: it is the hot path. */
export const handle = (intent: RoutingIntent, client: ClientSink) => Effect.gen(function*() {
  const settings = yield* WorkflowConfig
  const budget = yield* RetryBudgetTag
  const decisions = yield* DecisionLog
  const strategy = yield* Strategy
  const progress = makeProgress()
  const tried = new Set<NodeId>()
  let answered = false
  const claim = () => answered ? false : (answered = true)
  yield* budget.deposit

  const loop: Effect.Effect<void, AttemptFailure, WorkflowServices> = Effect.gen(function*() {
    for (let n = 1;; n++) {
      const lastChance = n >= settings.maxAttempts
      const result = yield* Effect.either(
        n === 1
          ? firstAttempt(intent, client, progress, tried, lastChance, claim)
          : attempt(intent, client, progress, tried, { lastChance, admission: "queue", claim })
      )
      if (result._tag === "Right") return
      const error = result.left
      // Every node was tried: the last node's own failure says more than "no candidates".
      if (error._tag === "NoCandidates" && error.reason === "AllTried" && progress.lastError?._tag === "UpstreamError") {
        return yield* progress.lastError
      }
      progress.lastError = error
      if (lastChance || !shouldRetry(error) || !(yield* budget.withdraw)) return yield* error
      yield* backoff(n, settings.retryBackoffMs)
    }
  })

  const exit = yield* Effect.exit(loop)
  const end = yield* Clock.currentTimeMillis
  const interrupted = Exit.isInterrupted(exit)
  if (Exit.isFailure(exit) && !interrupted) {
    const error = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) =>
      Option.fromNullable(c._tag === "Fail" ? c.error : undefined)
    )))
    if (error !== undefined) {
      progress.lastError = error
      if (!progress.committed) {
        // The decision records the status the client got, also when the gateway answered itself.
        const sent = client.reject(error, routingHeaders(intent, progress))
        if (typeof sent === "number") progress.status = sent
      }
    }
  }
  const failed = Exit.isFailure(exit) || progress.brokenStream
  yield* decisions.record({
    requestId: intent.requestId,
    at: intent.arrivedAt,
    kind: intent.kind,
    model: intent.model,
    taskType: intent.taskType,
    complexity: intent.complexity,
    priority: intent.priority,
    strategy: strategy.name,
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
    error: progress.lastError?.message,
    durationMs: end - intent.arrivedAt,
    ttftMs: progress.ttftMs
  })
  if (interrupted) return yield* Effect.interrupt
})
