/**
 * Distributed batch embeddings: the inputs are cut into chunks that per-node workers pull from one shared queue
 * (work stealing). A node takes a chunk only when it would finish it no later than the other nodes would finish the
 * queued work, by their measured embedding throughput, so faster nodes take more; a failed chunk goes back to the
 * queue for another node, and the vectors are merged in input order. Used by `batchEmbed()` and by large
 * `/api/embed` bodies at the gateway.
 */
import { Clock, Deferred, Effect, Exit, Option } from "effect"
import { beginRequest, NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import type { Candidate } from "../domain/Candidate.js"
import { NoCandidates, unservableError } from "../domain/errors.js"
import type { ModelNotFound, UpstreamError } from "../domain/errors.js"
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
import { backupFor, blend, fastestLearned, probing, tokensOf, worthTaking } from "./batchPlacement.js"
import type { BatchNode, Chunk } from "./batchPlacement.js"
import { defaultLearningConfig, LearningStore } from "./LearningStore.js"
import { slotsOf } from "./pick.js"
import { backoff, isRetryable } from "./retryPolicy.js"
import { WorkflowConfig } from "./workflow.js"
import type { WorkflowServices } from "./workflow.js"

export interface BatchEmbedOptions {
  readonly model: string
  /**
   * Most documents per chunk (one `/api/embed` call each). Default 64. A smaller batch is cut finer, into about
   * `CHUNKS_PER_NODE` chunks per routable node but not below `MIN_CHUNK` documents (see `chunkSizeFor`): with fewer
   * chunks than that, work cannot follow the nodes' speeds.
   */
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

/** Chunks a batch is cut into per routable node, when `batchSize` allows: enough for a 25 : 10 : 1 cluster to spread. */
export const CHUNKS_PER_NODE = 4
/** Smallest chunk the batch cuts on its own (an explicit smaller `batchSize` wins): each chunk is one HTTP call. */
export const MIN_CHUNK = 8

/** Documents per chunk: `batchSize` at most; fewer when that leaves under `CHUNKS_PER_NODE` chunks per node. */
export const chunkSizeFor = (inputs: number, nodes: number, batchSize: number): number => {
  const max = Math.max(1, Math.floor(batchSize))
  return Math.min(max, Math.max(MIN_CHUNK, Math.ceil(inputs / (CHUNKS_PER_NODE * Math.max(1, nodes)))))
}

/**
 * Embeds `inputs` across every routable node that has `options.model`:
 * 1. cut the inputs into chunks (`chunkSizeFor`); start as many workers per node as it has slots;
 * 2. a worker waits for a slot on its own node (through admission, so other requests keep their priority), then
 *    takes the first queued chunk its node has not tried if its node would finish that chunk no later than the
 *    others could finish the queued work (`worthTaking`); a cold node takes one chunk at a time until one lands;
 * 3. a worker whose node has nothing worth taking may run a backup of a chunk in flight elsewhere that it would
 *    finish sooner (`backupFor`): the first answer lands, the other attempt is cancelled;
 * 4. a chunk that fails retryably goes back to the queue, marked as tried on that node; any other failure, a chunk
 *    no live node may still try, or every worker gone, fails the batch;
 * 5. each landed chunk fills its slice of the result, updates its node's rate and reports progress.
 */
export const batchEmbed = Effect.fn("BatchEmbed.run")(function*(inputs: ReadonlyArray<string>, options: BatchEmbedOptions) {
  const registry = yield* NodeRegistry
  const admission = yield* AdmissionTag
  const learning = yield* LearningStore
  const clock = yield* Effect.clock
  const settings = yield* WorkflowConfig
  const model = normalizeModel(options.model)
  const priority = options.priority ?? DEFAULT_PRIORITY
  const startedAt = yield* Clock.currentTimeMillis
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
  if (inputs.length === 0) return empty()

  const { candidates, hasModel, routable, unlisted } = yield* registry.candidates(model)
  if (candidates.length === 0) {
    return yield* unservableError({ model, kind: "embed" }, { hasModel: hasModel.length, unlisted, routable }, false)
  }

  const attemptChunk = yield* makeChunkAttempt({ model, priority, extra: options.extra ?? {}, requestId: options.requestId })
  const size = chunkSizeFor(inputs.length, candidates.length, options.batchSize ?? 64)
  const chunks: Array<Chunk> = []
  for (let start = 0, index = 0; start < inputs.length; start += size, index++) {
    const slice = inputs.slice(start, start + size)
    const won = yield* Deferred.make<void>()
    chunks.push({ index, start, inputs: slice, tokens: tokensOf(slice), tried: new Set(), running: new Set(), won, landed: false, lastError: undefined })
  }

  const nodes = yield* nodesOf(candidates, model, startedAt)
  const byId = new Map(nodes.map((n) => [n.id, n]))

  // Batch state: touched only in synchronous sections of this batch's fibers.
  const pending: Array<Chunk> = [...chunks]
  let pendingTokens = chunks.reduce((n, c) => n + c.tokens, 0)
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

  const live = () => nodes.filter((n) => n.workers > 0)
  /** A queued chunk that every live node already tried can never land. */
  const stuck = (): Chunk | undefined => {
    const alive = live()
    return pending.find((c) => alive.every((n) => c.tried.has(n.id)))
  }
  const failStuck = Effect.suspend(() => {
    if (live().length === 0) return finish(Exit.fail(new NoCandidates({ model, reason: "AllTried" })))
    const chunk = stuck()
    if (chunk === undefined) return Effect.void
    return finish(Exit.fail(chunk.lastError ?? new NoCandidates({ model, reason: "AllTried" })))
  })

  /** The chunk `node` should run now (removed from the queue if it was queued); undefined means "wait for a change". */
  const take = (node: BatchNode, now: number): Chunk | undefined => {
    if (probing(node)) return undefined
    const fastest = fastestLearned(nodes)
    const i = pending.findIndex((c) => !c.tried.has(node.id))
    const chunk = pending[i]
    if (chunk !== undefined && worthTaking(nodes, pendingTokens, node, chunk, now, fastest)) {
      pending.splice(i, 1)
      pendingTokens -= chunk.tokens
      return chunk
    }
    return backupFor(nodes, node, now, fastest)
  }

  /** Something this node could do: a queued chunk it has not tried, or (once learned) a chunk to back up. */
  const hasWork = (node: BatchNode) =>
    !probing(node) &&
    (pending.some((c) => !c.tried.has(node.id)) ||
      (node.rate !== undefined && nodes.some((o) => o !== node && o.attempts.some((a) => a.chunk.running.size === 1 && !a.chunk.tried.has(node.id)))))

  /** The attempt of `chunk` on `node` ended (landed, failed or cancelled). */
  const ended = (node: BatchNode, chunk: Chunk) => {
    const i = node.attempts.findIndex((a) => a.chunk === chunk)
    if (i >= 0) node.attempts.splice(i, 1)
    chunk.running.delete(node.id)
    node.freeAt = clock.unsafeCurrentTimeMillis()
  }

  const landed = (node: BatchNode, chunk: Chunk, result: ChunkResult) =>
    Effect.suspend(() => {
      ended(node, chunk)
      node.loaded = true
      // in Ollama's token count when it gives one, as the store's rates are (queues are counted in estimates)
      node.rate = blend(node.rate, (result.promptEvalCount > 0 ? result.promptEvalCount : chunk.tokens) / result.serviceMs)
      if (chunk.landed) return signal
      chunk.landed = true
      result.embeddings.forEach((v, k) => {
        out[chunk.start + k] = v
      })
      const id = node.id
      chunksByNode[id] = (chunksByNode[id] ?? 0) + 1
      docsByNode[id] = (docsByNode[id] ?? 0) + chunk.inputs.length
      totals.docs += chunk.inputs.length
      totals.chunks += 1
      totals.load += result.loadDuration
      totals.promptEval += result.promptEvalCount
      try {
        options.onProgress?.({ done: totals.docs, total: inputs.length, chunksDone: totals.chunks, chunks: chunks.length, node: id })
      } catch {
        // A progress callback must not break the batch.
      }
      return Effect.zipRight(Deferred.succeed(chunk.won, undefined), totals.chunks === chunks.length ? finish(Exit.void) : signal)
    })

  const requeue = (node: BatchNode, chunk: Chunk, error: UpstreamError) =>
    Effect.suspend(() => {
      ended(node, chunk)
      if (chunk.landed) return signal
      chunk.tried.add(node.id)
      chunk.lastError = error
      const retryable = isRetryable(error) || error.status === 404
      if (!retryable) return finish(Exit.fail(error))
      // a backup (or the attempt it backs up) still runs: that is the retry
      if (chunk.running.size > 0) {
        totals.retries += 1
        return signal
      }
      if (chunk.tried.size >= Math.max(settings.maxAttempts, 2)) return finish(Exit.fail(error))
      totals.retries += 1
      pending.push(chunk)
      pendingTokens += chunk.tokens
      pending.sort((a, b) => a.index - b.index)
      return Effect.zipRight(failStuck, signal)
    })

  const cancelled = (node: BatchNode, chunk: Chunk) => Effect.suspend(() => (ended(node, chunk), signal))

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

  /** Runs `chunk` on `node` until it lands, fails, or another attempt of it lands first. */
  const run = (node: BatchNode, handle: NodeHandle, chunk: Chunk) =>
    Effect.gen(function*() {
      const now = clock.unsafeCurrentTimeMillis()
      node.attempts.push({ chunk, sentAt: now, loadMs: node.loaded || node.attempts.length > 0 ? 0 : node.loadMs })
      chunk.running.add(node.id)
      const result = yield* Effect.raceFirst(
        Effect.either(attemptChunk(handle, chunk.index, chunk.inputs, () => node.freeAt)),
        Effect.as(Deferred.await(chunk.won), undefined)
      )
      if (result === undefined) {
        yield* cancelled(node, chunk)
        return "ok" as const
      }
      if (result._tag === "Right") {
        yield* landed(node, chunk, result.right)
        return "ok" as const
      }
      yield* requeue(node, chunk, result.left)
      return "failed" as const
    })

  /** One worker on `node`: loops until the batch ends or the node stops being routable. */
  const worker = (node: BatchNode) =>
    Effect.gen(function*() {
      let failures = 0
      while (!(yield* Deferred.isDone(done))) {
        const wake = changed
        if (!hasWork(node)) {
          yield* Deferred.await(wake)
          continue
        }
        const request = { priority, arrivedAt: startedAt, group: model, tryAcquire: reserve(node.id) }
        const outcome = yield* admission.withSlot(request, (handle) => {
          if (handle === "gone") return Effect.succeed("gone" as const)
          const chunk = take(node, clock.unsafeCurrentTimeMillis())
          return chunk === undefined ? Effect.succeed("idle" as const) : run(node, handle, chunk)
        })
        if (outcome === "gone") return
        if (outcome === "idle") yield* Deferred.await(wake)
        failures = outcome === "failed" ? failures + 1 : outcome === "ok" ? 0 : failures
        if (outcome === "failed") yield* backoff(failures, Math.max(settings.retryBackoffMs, 1))
      }
    }).pipe(
      Effect.catchAll((error: QueueFull) => finish(Exit.fail(error))),
      Effect.ensuring(Effect.suspend(() => {
        node.workers -= 1
        return Effect.zipRight(failStuck, signal)
      }))
    )

  yield* Effect.scoped(Effect.gen(function*() {
    for (const c of candidates) byId.get(c.nodeId)!.workers = Math.max(1, slotsOf(learning, settings.configuredSlots, c))
    for (const node of nodes) {
      for (let k = node.workers; k > 0; k--) yield* Effect.forkScoped(worker(node))
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

/**
 * The batch's view of each candidate at the start: the embedding rate the learning store learned for (node, model)
 * (from earlier batches' chunks; see `makeChunkAttempt`), else cold, with the store's prior or fallback for it.
 */
const nodesOf = (candidates: ReadonlyArray<Candidate>, model: string, now: number) =>
  Effect.gen(function*() {
    const learning = yield* LearningStore
    const snapshot = yield* learning.snapshot
    const learned = new Map<string, number>()
    for (const e of snapshot.perf) if (e.model === model && e.prefillTps !== undefined) learned.set(e.nodeId, e.prefillTps.value / 1000)
    const fallback = defaultLearningConfig.fallback
    return candidates.map((c): BatchNode => {
      const perf = learning.perfAt(c.nodeId, model, now)
      return {
        id: c.nodeId,
        workers: 0,
        attempts: [],
        rate: learned.get(c.nodeId),
        priorRate: (perf?.prefillTps ?? fallback.prefillTps) / 1000,
        offGpu: c.gpuShare !== undefined && c.gpuShare < 1,
        loadMs: perf?.loadMs ?? fallback.loadMs,
        loaded: c.modelLoaded,
        freeAt: -Infinity
      }
    })
  })

export type BatchEmbedServices = WorkflowServices
