/**
 * Distributed batch embeddings: the inputs are cut into chunks that per-node workers pull from one shared queue
 * (work stealing), so fast nodes take more; a failed chunk goes back to the queue for another node, and the
 * vectors are merged in input order. Used by `batchEmbed()` and by large `/api/embed` bodies at the gateway.
 */
import { Clock, Deferred, Effect, Exit, Option } from "effect"
import { beginRequest, NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { ModelNotFound, NoCandidates, UpstreamError } from "../domain/errors.js"
import { parseKeepAlive } from "../domain/keepAlive.js"
import type { QueueFull } from "../domain/errors.js"
import { normalizeModel } from "../domain/Model.js"
import type { NodeId } from "../domain/NodeId.js"
import { DEFAULT_PRIORITY } from "../domain/Priority.js"
import type { Priority } from "../domain/Priority.js"
import { AdmissionTag } from "./Admission.js"
import type { Grant } from "./Admission.js"
import { makeChunkAttempt } from "./batchEmbedChunk.js"
import type { ChunkResult } from "./batchEmbedChunk.js"
import { LearningStore } from "./LearningStore.js"
import { slotsOf } from "./pick.js"
import { backoff, isRetryable } from "./retryPolicy.js"
import { WorkflowConfig } from "./workflow.js"
import type { WorkflowServices } from "./workflow.js"

export interface BatchEmbedOptions {
  readonly model: string
  /** Documents per chunk (one `/api/embed` call each). Default 64. */
  readonly batchSize?: number
  /** Admission priority of every chunk, 1–10. Default 5. */
  readonly priority?: Priority
  /** Called after each chunk lands (synchronously; an exception thrown by it is ignored). */
  readonly onProgress?: (progress: BatchProgress) => void
  /** Extra `/api/embed` fields sent with every chunk (`truncate`, `keep_alive`, `dimensions`, `options`). */
  readonly extra?: Readonly<Record<string, unknown>>
  /** Request id prefix for the decision log. Default a fresh one per batch. */
  readonly requestId?: string
}

export interface BatchProgress {
  /** Documents embedded so far, and in all. */
  readonly done: number
  readonly total: number
  readonly chunksDone: number
  readonly chunks: number
  /** The node that embedded the chunk that just landed. */
  readonly node: NodeId
}

export interface BatchEmbedResult {
  readonly model: string
  /** One vector per input, in input order. */
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>>
  /** Wall time of the whole batch in ns, as Ollama reports durations. */
  readonly totalDuration: number
  /** Sum of the nodes' model load times, ns. */
  readonly loadDuration: number
  readonly promptEvalCount: number
  /** Chunks and documents each node embedded. */
  readonly chunksByNode: Readonly<Record<string, number>>
  readonly docsByNode: Readonly<Record<string, number>>
  /** Chunk attempts that failed and were retried on another node. */
  readonly retries: number
}

export type BatchEmbedError = ModelNotFound | NoCandidates | UpstreamError | QueueFull

interface Chunk {
  readonly index: number
  readonly start: number
  readonly inputs: ReadonlyArray<string>
  readonly tried: Set<NodeId>
  lastError: UpstreamError | undefined
}

/** What one node's workers learned: chunk latency and node throughput (docs per ms), as EWMAs. */
interface Rate {
  latencyMs: number
  docsPerMs: number
}

const EWMA_WEIGHT = 0.3
const blend = (prev: number | undefined, x: number) => prev === undefined ? x : prev * (1 - EWMA_WEIGHT) + x * EWMA_WEIGHT

/**
 * Embeds `inputs` across every routable node that has `options.model`:
 * 1. cut the inputs into chunks of `batchSize`; start as many workers per node as it has slots;
 * 2. a worker waits for a slot on its own node (through admission, so other requests keep their priority), then
 *    takes the first queued chunk its node has not tried, unless the rest of the cluster would finish all
 *    remaining work before this node finished that chunk (so a slow node does not hold the tail);
 * 3. a chunk that fails retryably goes back to the queue, marked as tried on that node; any other failure, a chunk
 *    no live node may still try, or every worker gone, fails the batch;
 * 4. each landed chunk fills its slice of the result and reports progress.
 */
export const batchEmbed = Effect.fn("BatchEmbed.run")(function*(inputs: ReadonlyArray<string>, options: BatchEmbedOptions) {
  const registry = yield* NodeRegistry
  const admission = yield* AdmissionTag
  const learning = yield* LearningStore
  const clock = yield* Effect.clock
  const settings = yield* WorkflowConfig
  const model = normalizeModel(options.model)
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 64))
  const priority = options.priority ?? DEFAULT_PRIORITY
  const startedAt = yield* Clock.currentTimeMillis
  const attemptChunk = yield* makeChunkAttempt({ model, priority, extra: options.extra ?? {}, requestId: options.requestId })

  const chunks: Array<Chunk> = []
  for (let start = 0, index = 0; start < inputs.length; start += batchSize, index++) {
    chunks.push({ index, start, inputs: inputs.slice(start, start + batchSize), tried: new Set(), lastError: undefined })
  }
  const out: Array<ReadonlyArray<number>> = new Array(inputs.length)
  const empty = (): BatchEmbedResult => ({
    model: options.model,
    embeddings: out,
    totalDuration: 0,
    loadDuration: 0,
    promptEvalCount: 0,
    chunksByNode: {},
    docsByNode: {},
    retries: 0
  })
  if (chunks.length === 0) return empty()

  const { candidates, hasModel } = yield* registry.candidates(model)
  if (hasModel.length === 0) return yield* new ModelNotFound({ model })
  if (candidates.length === 0) return yield* new NoCandidates({ model, reason: "AllExcluded" })

  // Batch state: touched only in synchronous sections of this batch's fibers.
  const pending: Array<Chunk> = [...chunks]
  const workers = new Map<NodeId, number>()
  const rates = new Map<NodeId, Rate>()
  const totals = { docs: 0, chunks: 0, load: 0, promptEval: 0, retries: 0 }
  const chunksByNode: Record<string, number> = {}
  const docsByNode: Record<string, number> = {}
  const done = yield* Deferred.make<void, BatchEmbedError>()
  let changed = yield* Deferred.make<void>()
  const signal = Effect.suspend(() => {
    const previous = changed
    return Effect.flatMap(Deferred.make<void>(), (next) => {
      changed = next
      return Deferred.succeed(previous, undefined)
    })
  })
  const finish = (exit: Exit.Exit<void, BatchEmbedError>) => Effect.zipRight(Deferred.done(done, exit), signal)

  const liveNodes = () => [...workers].filter(([, n]) => n > 0).map(([id]) => id)
  /** A queued chunk that every live node already tried can never land. */
  const stuck = (): Chunk | undefined => {
    const live = liveNodes()
    return pending.find((c) => live.every((id) => c.tried.has(id)))
  }
  const failStuck = Effect.suspend(() => {
    if (liveNodes().length === 0) return finish(Exit.fail(new NoCandidates({ model, reason: "AllTried" })))
    const chunk = stuck()
    if (chunk === undefined) return Effect.void
    return finish(Exit.fail(chunk.lastError ?? new NoCandidates({ model, reason: "AllTried" })))
  })

  /**
   * The first chunk `nodeId` may take now, removed from the queue; undefined means "wait for a change". A node
   * leaves a chunk to the others when they would finish all queued work before it finished that chunk, but the
   * node with the highest measured throughput never does, so some worker always takes it.
   */
  const take = (nodeId: NodeId): Chunk | undefined => {
    const i = pending.findIndex((c) => !c.tried.has(nodeId))
    const chunk = pending[i]
    if (chunk === undefined) return undefined
    const own = rates.get(nodeId)
    const others = liveNodes().filter((id) => id !== nodeId && !chunk.tried.has(id)).map((id) => rates.get(id)?.docsPerMs ?? 0)
    const othersRate = others.reduce((a, b) => a + b, 0)
    if (own !== undefined && othersRate > 0 && Math.max(...others) > own.docsPerMs) {
      const remaining = pending.reduce((n, c) => n + c.inputs.length, 0)
      if (own.latencyMs > remaining / othersRate) return undefined
    }
    pending.splice(i, 1)
    return chunk
  }

  const landed = (handle: NodeHandle, chunk: Chunk, result: ChunkResult, latencyMs: number) =>
    Effect.suspend(() => {
      result.embeddings.forEach((v, k) => {
        out[chunk.start + k] = v
      })
      const id = handle.nodeId
      chunksByNode[id] = (chunksByNode[id] ?? 0) + 1
      docsByNode[id] = (docsByNode[id] ?? 0) + chunk.inputs.length
      totals.docs += chunk.inputs.length
      totals.chunks += 1
      totals.load += result.loadDuration
      totals.promptEval += result.promptEvalCount
      const prev = rates.get(id)
      const perWorker = chunk.inputs.length / Math.max(latencyMs, 0.001)
      rates.set(id, {
        latencyMs: blend(prev?.latencyMs, latencyMs),
        docsPerMs: blend(prev?.docsPerMs, perWorker * Math.max(1, workers.get(id) ?? 1))
      })
      try {
        options.onProgress?.({ done: totals.docs, total: inputs.length, chunksDone: totals.chunks, chunks: chunks.length, node: id })
      } catch {
        // A progress callback must not break the batch.
      }
      return totals.chunks === chunks.length ? finish(Exit.void) : signal
    })

  const requeue = (handle: NodeHandle, chunk: Chunk, error: UpstreamError) =>
    Effect.suspend(() => {
      chunk.tried.add(handle.nodeId)
      chunk.lastError = error
      const retryable = isRetryable(error) || error.status === 404
      if (!retryable || chunk.tried.size >= Math.max(settings.maxAttempts, 2)) return finish(Exit.fail(error))
      totals.retries += 1
      pending.push(chunk)
      pending.sort((a, b) => a.index - b.index)
      return Effect.zipRight(failStuck, signal)
    })

  const unloadsModel = parseKeepAlive(options.extra?.["keep_alive"]) === 0
  /** Reserves a slot on this node only; `None` while it is full, "gone" once it is no longer routable. */
  const reserve = (nodeId: NodeId) => (): Grant<NodeHandle | "gone"> | undefined => {
    const gone = { value: "gone" as const, release: () => undefined }
    const now = clock.unsafeCurrentTimeMillis()
    const candidate = registry.candidatesNow(model, undefined, now).candidates.find((c) => c.nodeId === nodeId)
    const handle = registry.get(nodeId)
    if (candidate === undefined || Option.isNone(handle)) return gone
    if (candidate.inFlight >= slotsOf(learning, settings.configuredSlots, candidate)) return undefined
    return { value: handle.value, release: beginRequest(handle.value, model, unloadsModel) }
  }

  /** One worker on `nodeId`: loops until the batch ends or the node stops being routable. */
  const worker = (nodeId: NodeId) =>
    Effect.gen(function*() {
      let failures = 0
      while (!(yield* Deferred.isDone(done))) {
        const wake = changed
        if (pending.every((c) => c.tried.has(nodeId))) {
          yield* Deferred.await(wake)
          continue
        }
        const request = { priority, arrivedAt: startedAt, group: model, tryAcquire: reserve(nodeId) }
        const outcome = yield* admission.withSlot(request, (handle) => Effect.gen(function*() {
          if (handle === "gone") return "gone" as const
          const chunk = take(nodeId)
          if (chunk === undefined) return "idle" as const
          const t0 = yield* Clock.currentTimeMillis
          const result = yield* Effect.either(attemptChunk(handle, chunk.index, chunk.inputs))
          const latencyMs = (yield* Clock.currentTimeMillis) - t0
          if (result._tag === "Right") {
            yield* landed(handle, chunk, result.right, latencyMs)
            return "ok" as const
          }
          yield* requeue(handle, chunk, result.left)
          return "failed" as const
        }))
        if (outcome === "gone") return
        if (outcome === "idle") yield* Deferred.await(wake)
        failures = outcome === "failed" ? failures + 1 : outcome === "ok" ? 0 : failures
        if (outcome === "failed") yield* backoff(failures, Math.max(settings.retryBackoffMs, 1))
      }
    }).pipe(
      Effect.catchAll((error: QueueFull) => finish(Exit.fail(error))),
      Effect.ensuring(Effect.suspend(() => {
        workers.set(nodeId, (workers.get(nodeId) ?? 1) - 1)
        return Effect.zipRight(failStuck, signal)
      }))
    )

  yield* Effect.scoped(Effect.gen(function*() {
    for (const c of candidates) workers.set(c.nodeId, Math.max(1, slotsOf(learning, settings.configuredSlots, c)))
    for (const [nodeId, n] of [...workers]) {
      for (let k = 0; k < n; k++) yield* Effect.forkScoped(worker(nodeId))
    }
    yield* Deferred.await(done)
  }))
  const endedAt = yield* Clock.currentTimeMillis
  return {
    ...empty(),
    totalDuration: Math.round((endedAt - startedAt) * 1e6),
    loadDuration: totals.load,
    promptEvalCount: totals.promptEval,
    chunksByNode,
    docsByNode,
    retries: totals.retries
  }
})

export type BatchEmbedServices = WorkflowServices
