/**
 * One attempt on one node, inside a scope that holds its slot: admit → dispatch (under the route class's time
 * limits) → classify the outcome (node failure, model-load failure, "server busy", client error, success) and
 * record it where it belongs: the node's machine, the (node, model) breaker, the busy back-off, the learning store.
 */
import { Clock, Effect, Exit, Option } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import type { Pick } from "../domain/Decision.js"
import { ModelNotFound, NoCandidates, UpstreamError } from "../domain/errors.js"
import type { GatewayError, QueueFull } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { Strategy } from "../strategies/Strategy.js"
import { AdmissionTag, releaseOnClose } from "./Admission.js"
import type { ClientSink, ResponseHeaders } from "./ClientSink.js"
import { LearningStore } from "./LearningStore.js"
import { tryReserve } from "./pick.js"
import type { Reservation } from "./pick.js"
import { isModelLoadFailure, isServerBusy, Reliability } from "./Reliability.js"
import { errorTextOf, makeCollector, makeTailTracker, passThrough, responseHeaders, withRoutingInfo } from "./respond.js"
import { RETRYABLE_STATUSES } from "./retryPolicy.js"
import { describeUpstreamError, makeActivity, timeoutClassOf, withTimeouts } from "./timeouts.js"
import { parseTimings } from "./timings.js"
import { WorkflowConfig } from "./workflowConfig.js"

/** What the attempts learned; the decision record is built from it. */
export interface Progress {
  attempts: number
  pick: Pick | undefined
  node: NodeId | undefined
  queueWaitMs: number
  ttftMs: number | undefined
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

export const routingHeaders = (intent: RoutingIntent, progress: Progress): ResponseHeaders => ({
  "x-sollol-request-id": intent.requestId,
  ...(progress.node !== undefined ? { "x-sollol-node": progress.node } : {}),
  "x-sollol-attempts": String(progress.attempts),
  "x-sollol-task-type": intent.taskType,
  ...(progress.hedged ? { "x-sollol-hedged": "true" } : {}),
  ...(progress.pick !== undefined
    ? {
      "x-sollol-score": progress.pick.score.toFixed(3),
      "x-sollol-reasoning": progress.pick.reasoning.replace(/[^\x20-\x7e]/g, "?").slice(0, 300)
    }
    : {})
})

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

const safeParse = (body: Buffer): unknown => {
  try {
    return JSON.parse(body.toString("utf8"))
  } catch {
    return undefined
  }
}

const failureOf = (exit: Exit.Exit<void, UpstreamError>): UpstreamError | undefined =>
  Exit.isSuccess(exit) ? undefined : Option.getOrUndefined(Exit.causeOption(exit).pipe(
    Option.flatMap((c) => Option.fromNullable(c._tag === "Fail" ? c.error : undefined))
  ))

/** Gets a slot: through the priority queue, or (a hedge) only if one is free now. */
const reserveSlot = (intent: RoutingIntent, tried: Set<NodeId>, options: AttemptOptions) =>
  Effect.gen(function*() {
    const admission = yield* AdmissionTag
    const settings = yield* WorkflowConfig
    const services = {
      registry: yield* NodeRegistry,
      strategy: yield* Strategy,
      learning: yield* LearningStore,
      reliability: yield* Reliability
    }
    const tryAcquire = tryReserve(services, intent, tried, settings)
    if (options.admission === "queue") {
      // Added before the slot's own finalizer, so it runs after it: the freed slot goes to the next waiter.
      yield* releaseOnClose(admission.notify)
      return yield* admission.admit({ priority: intent.priority, arrivedAt: intent.arrivedAt, group: intent.model, tryAcquire })
    }
    const grant = yield* Effect.acquireRelease(tryAcquire, (g) => Option.isSome(g) ? g.value.release : Effect.void)
    return Option.isSome(grant)
      ? grant.value.value
      : ({ _tag: "Unservable", hasModel: 1 } satisfies Reservation)
  })

/** Where a failed or refused answer is recorded: never the node machine for a model-load failure or "busy". */
const recordFailure = (handle: NodeHandle, intent: RoutingIntent, status: number, text: string | undefined) =>
  Effect.gen(function*() {
    const reliability = yield* Reliability
    const admission = yield* AdmissionTag
    const now = yield* Clock.currentTimeMillis
    if (status === 404) return yield* Effect.ignore((yield* NodeRegistry).refreshModels(handle.nodeId))
    if (isModelLoadFailure(text)) {
      const cooldown = reliability.modelFailed(handle.nodeId, intent.model, now)
      if (cooldown !== undefined) yield* reliability.after(cooldown, admission.notify)
      return
    }
    if (isServerBusy(status)) {
      reliability.markBusy(handle.nodeId, now)
      return yield* reliability.after(reliability.config.busyBackoffMs, admission.notify)
    }
    if (status === 429 || status < 500) return
    yield* handle.report({ ok: false, reason: `status ${status}${text !== undefined ? `: ${text.slice(0, 200)}` : ""}` })
  })

/**
 * 1. reserve a slot (queue or immediate);
 * 2. dispatch under the class's limits: retryable statuses and non-streaming bodies are held back, a streaming
 *    2xx is committed to the client at once;
 * 3. classify and record the outcome; a committed stream that breaks ends with an explicit error, not a retry.
 */
export const attempt = (intent: RoutingIntent, client: ClientSink, progress: Progress, tried: Set<NodeId>, options: AttemptOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const settings = yield* WorkflowConfig
    const learning = yield* LearningStore
    const reliability = yield* Reliability
    const strategy = yield* Strategy
    const queuedAt = yield* Clock.currentTimeMillis
    const reservation = yield* reserveSlot(intent, tried, options)
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
    const concurrency = handle.load.inFlightNow()

    const tail = makeTailTracker()
    const held = makeCollector()
    const clock = yield* Effect.clock
    const activity = makeActivity(clock.unsafeCurrentTimeMillis())
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
    const enforced = handle.upstream.enforcesTimeouts === true
    const exit = yield* Effect.exit(withTimeouts(send, handle.nodeId, activity, limits, cls, enforced))
    const latencyMs = (yield* Clock.currentTimeMillis) - startedAt
    progress.ttftMs = firstChunkAt !== undefined ? firstChunkAt - activity.sentAt : undefined

    const error = failureOf(exit)
    if (error !== undefined) {
      yield* handle.report({ ok: false, reason: error.message })
      yield* learning.observe({ nodeId: handle.nodeId, model: intent.model, taskType: intent.taskType, ok: false, concurrency })
      if (state.mode === "stream" && progress.committed) {
        // After the first byte: no retry; the stream ends with an explicit error.
        client.fail(`upstream failed mid-stream: ${describeUpstreamError(error)}`)
        progress.lastError = error
        progress.brokenStream = true
        return true as const
      }
      return yield* error
    }
    if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)

    const status = state.status
    let final: unknown
    if (status >= 500 || status === 429 || status === 408 || status === 404) {
      const text = state.mode === "stream" ? undefined : errorTextOf(held.bytes())
      yield* recordFailure(handle, intent, status, text)
      if (state.mode === "held-error") {
        return yield* new UpstreamError({ nodeId: handle.nodeId, reason: "StatusCode", status, ...(text !== undefined ? { detail: text } : {}) })
      }
    } else {
      // Success from the node's point of view (a 4xx is the client's fault, not the node's).
      final = state.mode === "stream" ? tail.lastJson() : status < 300 ? safeParse(held.bytes()) : undefined
      yield* handle.report({ ok: true, latencyMs })
      yield* handle.load.observe(latencyMs)
      reliability.modelSucceeded(handle.nodeId, intent.model)
      if (!intent.stream && status < 300) reliability.recordLatency(latencyKey(intent), latencyMs)
      yield* learning.observe({
        nodeId: handle.nodeId,
        model: intent.model,
        taskType: intent.taskType,
        timings: parseTimings(final),
        ok: true,
        ttftMs: progress.ttftMs,
        concurrency
      })
    }
    if (state.mode === "stream") {
      if (progress.committed) client.end()
      return true as const
    }
    const doneAt = yield* Clock.currentTimeMillis
    // From the claim to the last write there is no yield point, so a losing hedge cannot cut this answer short.
    // A finished attempt that lost the claim waits to be interrupted by the winner's completion.
    if (!options.claim()) return yield* Effect.never
    const head = state.head ?? { status, headers: {} }
    progress.status = status
    progress.committed = true
    progress.node = handle.nodeId
    progress.pick = pick
    const body = held.bytes()
    const out = settings.includeRoutingInfo && status < 300
      ? withRoutingInfo(body, routingInfo(intent, progress, strategy.name, doneAt - intent.arrivedAt), final)
      : body
    client.start(status, { ...responseHeaders(head, routingHeaders(intent, progress)), "content-length": String(out.byteLength) })
    client.end(out)
    return true as const
  }))
