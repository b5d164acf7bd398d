/**
 * One request's way through the cluster: admit (wait for a slot, by priority) → score → dispatch → retry →
 * record. One fiber per request; response bytes stay outside Effect (see respond.ts). Every slot is held in a
 * scope, so success, failure, timeout and client abort all give it back.
 */
import { Clock, Context, Effect, Exit, Option } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { Pick } from "../domain/Decision.js"
import { ModelNotFound, NoCandidates, UpstreamError } from "../domain/errors.js"
import type { QueueFull } from "../domain/errors.js"
import type { GatewayError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { Strategy } from "../strategies/Strategy.js"
import { AdmissionTag } from "./Admission.js"
import type { ClientSink, ResponseHeaders } from "./ClientSink.js"
import { DecisionLog } from "./DecisionLog.js"
import { LearningStore } from "./LearningStore.js"
import { tryReserve } from "./pick.js"
import type { Reservation } from "./pick.js"
import { errorTextOf, makeCollector, makeTailTracker, passThrough, responseHeaders, withRoutingInfo } from "./respond.js"
import { backoff, isRetryable, RETRYABLE_STATUSES } from "./retryPolicy.js"
import type { RetryBudget } from "./retryPolicy.js"
import { parseTimings } from "./timings.js"

export interface WorkflowSettings {
  readonly maxAttempts: number
  readonly retryBackoffMs: number
  readonly includeRoutingInfo: boolean
  readonly panicMode: boolean
  readonly firstByteTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly totalTimeoutMs: number
  /** Nodes whose slots were configured (learned slots never override them). */
  readonly configuredSlots: ReadonlySet<NodeId>
}

export class WorkflowConfig extends Context.Tag("sollol/WorkflowConfig")<WorkflowConfig, WorkflowSettings>() {}
export class RetryBudgetTag extends Context.Tag("sollol/RetryBudget")<RetryBudgetTag, RetryBudget>() {}

export type WorkflowServices =
  | NodeRegistry
  | Strategy
  | AdmissionTag
  | LearningStore
  | DecisionLog
  | WorkflowConfig
  | RetryBudgetTag

/** What the attempts learned; the decision record is built from it. */
interface Progress {
  attempts: number
  pick: Pick | undefined
  node: NodeId | undefined
  queueWaitMs: number
  ttftMs: number | undefined
  status: number
  committed: boolean
  /** The stream to the client was cut by a node failure after its first byte (and ended with an error). */
  brokenStream: boolean
  lastError: GatewayError | undefined
}

/** An attempt that did not answer the client: retry elsewhere if allowed. */
type AttemptFailure = UpstreamError | NoCandidates | ModelNotFound | QueueFull

const routingHeaders = (intent: RoutingIntent, progress: Progress): ResponseHeaders => ({
  "x-sollol-request-id": intent.requestId,
  ...(progress.node !== undefined ? { "x-sollol-node": progress.node } : {}),
  "x-sollol-attempts": String(progress.attempts),
  "x-sollol-task-type": intent.taskType,
  ...(progress.pick !== undefined
    ? {
      "x-sollol-score": progress.pick.score.toFixed(3),
      "x-sollol-reasoning": progress.pick.reasoning.replace(/[^\x20-\x7e]/g, "?").slice(0, 300)
    }
    : {})
})

const routingInfo = (intent: RoutingIntent, progress: Progress, strategy: string, durationMs: number) => ({
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
  duration_ms: durationMs
})

/**
 * One attempt on one node, inside a scope that holds its slot:
 * 1. admit: wait (by priority) until the strategy's pick has a free slot;
 * 2. dispatch: retryable statuses and bodies of non-streaming answers are held back; anything else is committed;
 * 3. report the outcome to the node's actor and the learning store.
 */
const attempt = (intent: RoutingIntent, client: ClientSink, progress: Progress, tried: Set<NodeId>, lastChance: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const admission = yield* AdmissionTag
    const settings = yield* WorkflowConfig
    const learning = yield* LearningStore
    const strategy = yield* Strategy
    const registry = yield* NodeRegistry
    const queuedAt = yield* Clock.currentTimeMillis
    // Added before the slot's own finalizer, so it runs after it: the freed slot goes to the next waiter.
    yield* Effect.addFinalizer(() => admission.notify)
    const reservation: Reservation = yield* admission.admit({
      priority: intent.priority,
      arrivedAt: intent.arrivedAt,
      group: intent.model,
      tryAcquire: tryReserve({ registry, strategy, learning }, intent, tried, settings.configuredSlots)
    })
    const startedAt = yield* Clock.currentTimeMillis
    progress.queueWaitMs += startedAt - queuedAt
    if (reservation._tag === "Unservable") {
      return yield* reservation.hasModel === 0
        ? new ModelNotFound({ model: intent.model })
        : new NoCandidates({ model: intent.model, reason: tried.size === 0 ? "AllExcluded" : "AllTried" })
    }
    const { handle, pick } = reservation
    tried.add(handle.nodeId)
    progress.attempts += 1
    progress.pick = pick
    progress.node = handle.nodeId
    const concurrency = yield* handle.load.inFlight

    const tail = makeTailTracker()
    const held = makeCollector()
    let status = 0
    const state: { mode: "held-error" | "held-body" | "stream" } = { mode: "stream" }
    let firstChunkAt: number | undefined
    let heldHead: UpstreamHead | undefined
    const clock = yield* Effect.clock
    const sentAt = clock.unsafeCurrentTimeMillis()
    const accept = (head: UpstreamHead): BodySink => {
      status = head.status
      heldHead = head
      const retryable = RETRYABLE_STATUSES.has(head.status) || head.status === 404
      if (retryable && !lastChance) {
        state.mode = "held-error"
        return held.sink
      }
      if (!intent.stream || head.status >= 300) {
        state.mode = "held-body"
        return held.sink
      }
      progress.committed = true
      progress.status = head.status
      client.start(head.status, responseHeaders(head, routingHeaders(intent, progress)))
      return passThrough(client, tail, () => {
        firstChunkAt = clock.unsafeCurrentTimeMillis()
      })
    }

    const sent = yield* handle.upstream.send(intent.upstream, accept, {
      firstByteTimeoutMs: settings.firstByteTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs
    }).pipe(
      Effect.timeoutFail({
        duration: settings.totalTimeoutMs,
        onTimeout: () => new UpstreamError({ nodeId: handle.nodeId, reason: "TotalTimeout" })
      }),
      Effect.exit
    )
    const latencyMs = (yield* Clock.currentTimeMillis) - startedAt
    progress.ttftMs = firstChunkAt !== undefined ? firstChunkAt - sentAt : undefined

    if (Exit.isFailure(sent)) {
      const error = Option.getOrThrow(Exit.causeOption(sent).pipe(Option.flatMap((c) => Option.fromNullable(
        c._tag === "Fail" ? c.error : undefined
      ))))
      yield* handle.report({ ok: false, reason: error.message })
      yield* learning.observe({ nodeId: handle.nodeId, model: intent.model, taskType: intent.taskType, ok: false, concurrency })
      if (progress.committed) {
        // After the first byte: no retry; the stream ends with an explicit error.
        client.fail(`upstream ${handle.nodeId} failed mid-stream: ${error.message}`)
        progress.lastError = error
        progress.brokenStream = true
        return true as const
      }
      return yield* error
    }

    if (state.mode === "held-error") {
      const detail = errorTextOf(held.bytes())
      if (status === 404) yield* Effect.ignore(registry.refreshModels(handle.nodeId))
      else if (status !== 503 && status !== 429) yield* handle.report({ ok: false, reason: `status ${status}` })
      return yield* new UpstreamError({ nodeId: handle.nodeId, reason: "StatusCode", status, detail })
    }

    // Success from the node's point of view (a 4xx is the client's fault, not the node's).
    const final = state.mode === "stream" ? tail.lastJson() : status < 300 ? safeParse(held.bytes()) : undefined
    const timings = parseTimings(final)
    yield* handle.report({ ok: true, latencyMs })
    yield* handle.load.observe(latencyMs)
    yield* learning.observe({
      nodeId: handle.nodeId,
      model: intent.model,
      taskType: intent.taskType,
      timings,
      ok: true,
      ttftMs: progress.ttftMs,
      concurrency
    })
    if (state.mode === "stream") {
      client.end()
      return true as const
    }
    const head = heldHead ?? { status, headers: {} }
    progress.status = status
    progress.committed = true
    const body = held.bytes()
    const out = settings.includeRoutingInfo && status < 300
      ? withRoutingInfo(body, routingInfo(intent, progress, strategy.name, (yield* Clock.currentTimeMillis) - intent.arrivedAt))
      : body
    client.start(status, { ...responseHeaders(head, routingHeaders(intent, progress)), "content-length": String(out.byteLength) })
    client.end(out)
    return true as const
  }))

const safeParse = (body: Buffer): unknown => {
  try {
    return JSON.parse(body.toString("utf8"))
  } catch {
    return undefined
  }
}

/** Whether a failed attempt may be tried again on another node. */
const shouldRetry = (error: AttemptFailure): boolean =>
  error._tag === "UpstreamError" && (isRetryable(error) || (error.reason === "StatusCode" && error.status === 404))

/** Runs one request to the end, writing its answer (or its error) to `client`. Never fails. */
export const handle = Effect.fn("Workflow.handle")(function*(intent: RoutingIntent, client: ClientSink) {
  const settings = yield* WorkflowConfig
  const budget = yield* RetryBudgetTag
  const decisions = yield* DecisionLog
  const strategy = yield* Strategy
  const progress: Progress = {
    attempts: 0,
    pick: undefined,
    node: undefined,
    queueWaitMs: 0,
    ttftMs: undefined,
    status: 0,
    committed: false,
    brokenStream: false,
    lastError: undefined
  }
  const tried = new Set<NodeId>()
  yield* budget.deposit

  const loop: Effect.Effect<void, AttemptFailure, WorkflowServices> = Effect.gen(function*() {
    for (let n = 1;; n++) {
      const lastChance = n >= settings.maxAttempts
      const result = yield* Effect.either(attempt(intent, client, progress, tried, lastChance))
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
      if (!progress.committed) client.reject(error, routingHeaders(intent, progress))
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
    hedged: false,
    outcome: interrupted ? "aborted" : failed ? "error" : "ok",
    status: progress.status,
    error: progress.lastError?.message,
    durationMs: end - intent.arrivedAt,
    ttftMs: progress.ttftMs
  })
  if (interrupted) return yield* Effect.interrupt
})
