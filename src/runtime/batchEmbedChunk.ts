/**
 * One chunk of a batch embedding on one node, with the slot already held: the `/api/embed` call, its outcome
 * reported to the node's actor and the learning store, and one decision-log record per attempt.
 *
 * Ollama's `/api/embed` answer has no `prompt_eval_duration`, so on its own it teaches the learning store no
 * embedding rate. An embedding runner runs one request at a time, in order (Ollama loads embedding models with
 * parallel = 1), so the node's time on a chunk is measured here instead: from when it could start it (sent, model
 * loaded, and the node's previous chunk of the batch done) to the answer. That service time is what the store
 * learns as the prompt eval time, with the wait behind the batch's own chunks taken out of `total_duration`.
 */
import { randomUUID } from "node:crypto"
import { Clock, Effect, Either } from "effect"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { UpstreamError } from "../domain/errors.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { DecisionLog } from "./DecisionLog.js"
import { LearningStore } from "./LearningStore.js"
import { errorTextOf, makeCollector } from "./respond.js"
import { parseTimings } from "./timings.js"
import { makeActivity, withTimeouts } from "./timeouts.js"
import { WorkflowConfig } from "./workflow.js"

export interface ChunkResult {
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>>
  readonly loadDuration: number
  readonly promptEvalCount: number
  /** The node's own time on the chunk in ms (at least `MIN_SERVICE_MS`): see the module comment. */
  readonly serviceMs: number
}

/** Floor of a measured service time: a chunk answered at once says "fast", not "infinitely fast". */
export const MIN_SERVICE_MS = 1

export interface ChunkContext {
  /** Normalised model name. */
  readonly model: string
  readonly priority: number
  readonly extra: Readonly<Record<string, unknown>>
  readonly requestId: string | undefined
}

const isVector = (v: unknown): v is ReadonlyArray<number> => Array.isArray(v) && v.every((x) => typeof x === "number")

/** The vectors of an `/api/embed` body, if it has exactly `count` of them. */
const vectorsOf = (body: Buffer, count: number): ReadonlyArray<ReadonlyArray<number>> | undefined => {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"))
    const embeddings = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>).embeddings : undefined
    return Array.isArray(embeddings) && embeddings.length === count && embeddings.every(isVector) ? embeddings : undefined
  } catch {
    return undefined
  }
}

/** Builds the per-chunk attempt of one batch (services resolved once). */
export const makeChunkAttempt = (context: ChunkContext) =>
  Effect.gen(function*() {
    const settings = yield* WorkflowConfig
    const learning = yield* LearningStore
    const decisions = yield* DecisionLog
    const batchId = context.requestId ?? randomUUID()
    const headers = { "content-type": "application/json" }

    /** `freeSince`: when the node's previous attempt of this batch ended (read when the answer arrives). */
    return (
      handle: NodeHandle,
      index: number,
      inputs: ReadonlyArray<string>,
      freeSince: () => number
    ): Effect.Effect<ChunkResult, UpstreamError> =>
      Effect.gen(function*() {
        const body = Buffer.from(JSON.stringify({ ...context.extra, model: context.model, input: inputs }))
        const held = makeCollector()
        const clock = yield* Effect.clock
        const activity = makeActivity(clock.unsafeCurrentTimeMillis())
        let status = 0
        const accept = (head: UpstreamHead): BodySink => {
          activity.headAt = activity.lastAt = clock.unsafeCurrentTimeMillis()
          status = head.status
          return {
            write: (chunk) => {
              activity.lastAt = clock.unsafeCurrentTimeMillis()
              held.sink.write(chunk)
            }
          }
        }
        const startedAt = yield* Clock.currentTimeMillis
        const concurrency = yield* handle.load.inFlight
        const limits = settings.timeouts.embedding
        const request = { method: "POST", path: "/api/embed", headers, body }
        const sent = yield* Effect.either(withTimeouts(
          handle.upstream.send(request, accept, { firstByteTimeoutMs: limits.firstByteMs, idleTimeoutMs: limits.idleMs }),
          handle.nodeId,
          activity,
          limits,
          "embedding"
        ))
        const latencyMs = (yield* Clock.currentTimeMillis) - startedAt
        const bytes = held.bytes()
        const vectors = Either.isRight(sent) && status < 300 ? vectorsOf(bytes, inputs.length) : undefined
        const error: UpstreamError | undefined = Either.isLeft(sent)
          ? sent.left
          : vectors === undefined
          ? new UpstreamError({
            nodeId: handle.nodeId,
            reason: "StatusCode",
            status: status < 300 ? 502 : status,
            detail: status < 300 ? `malformed /api/embed answer for ${inputs.length} inputs` : errorTextOf(bytes)
          })
          : undefined
        const timings = vectors !== undefined ? parseTimings(JSON.parse(bytes.toString("utf8"))) : undefined
        const loadMs = (timings?.loadNs ?? 0) / 1e6
        const serviceMs = Math.max(startedAt + latencyMs - Math.max(startedAt + loadMs, freeSince()), MIN_SERVICE_MS)
        // Reported as run alone for `serviceMs` (concurrency 1, no slot wait): the node's slot levels describe its
        // LLM runners, and the wait here was behind this batch's own chunks in a one-slot runner.
        const derived = timings !== undefined && timings.promptEvalNs === 0 && timings.promptEvalCount > 0
        const observed = derived ? { ...timings, promptEvalNs: serviceMs * 1e6, totalNs: timings.loadNs + serviceMs * 1e6 } : timings
        const nodeFault = error !== undefined && (error.reason !== "StatusCode" || (error.status ?? 0) >= 500)
        if (nodeFault && error.status !== 503) yield* handle.report({ ok: false, reason: error.message })
        else if (error === undefined) {
          yield* handle.report({ ok: true, latencyMs })
          yield* handle.load.observe(latencyMs)
        }
        yield* learning.observe({
          nodeId: handle.nodeId,
          model: context.model,
          taskType: "embedding",
          ...(observed !== undefined ? { timings: observed } : {}),
          ok: error === undefined,
          concurrency: derived ? 1 : concurrency
        })
        yield* decisions.record({
          requestId: `${batchId}-${index}`,
          at: startedAt,
          kind: "embed",
          model: context.model,
          taskType: "embedding",
          complexity: "simple",
          priority: context.priority,
          strategy: "batch-embed",
          node: handle.nodeId,
          score: null,
          factors: [],
          candidates: [],
          reasoning: `batch chunk ${index} (${inputs.length} inputs), pulled by a worker of ${handle.nodeId}`,
          queueWaitMs: 0,
          attempts: 1,
          hedged: false,
          outcome: error === undefined ? "ok" : "error",
          status: error === undefined ? status : error.status ?? 0,
          error: error?.message,
          durationMs: latencyMs,
          ttftMs: undefined
        })
        if (error !== undefined) return yield* error
        return {
          embeddings: vectors ?? [],
          loadDuration: timings?.loadNs ?? 0,
          promptEvalCount: timings?.promptEvalCount ?? 0,
          serviceMs
        }
      })
  })
