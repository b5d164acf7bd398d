/**
 * Large `/api/embed` bodies at the gateway: more than BATCH_THRESHOLD inputs go through the distributed batch path
 * instead of one node, and the merged answer keeps Ollama's shape (plus `_sollol_routing` with chunks per node).
 */
import { Effect } from "effect"
import { encoder, stringifyJson } from "../domain/json.js"
import type { RequestKind, RoutingIntent } from "../domain/Request.js"
import { batchEmbed } from "../runtime/batchEmbed.js"
import type { ClientSink } from "../runtime/ClientSink.js"
import type { WorkflowServices } from "../runtime/workflow.js"

/** Inputs above this count are split across nodes. */
export const BATCH_THRESHOLD = 64

export interface BatchRequest {
  readonly inputs: ReadonlyArray<string>
  readonly model: string
  readonly batchSize: number | undefined
  readonly extra: Record<string, unknown>
}

/**
 * The batch to run for an `/api/embed` body (already parsed and validated), or undefined when it is an ordinary
 * request: a large `input` array of strings.
 */
export const batchOf = (kind: RequestKind, body: Readonly<Record<string, unknown>>, model: string): BatchRequest | undefined => {
  if (kind !== "embed") return undefined
  const { input, model: asked, sollol_batch_size, stream: _stream, ...extra } = body
  if (!Array.isArray(input) || input.length <= BATCH_THRESHOLD || !input.every((s) => typeof s === "string")) return undefined
  const size = typeof sollol_batch_size === "number" && Number.isInteger(sollol_batch_size) && sollol_batch_size > 0
    ? sollol_batch_size
    : undefined
  return { inputs: input, model: typeof asked === "string" ? asked : model, batchSize: size, extra }
}

/** Runs the batch and answers through `sink` (the same sink the workflow would use). Never fails. */
export const runBatchEmbed = (batch: BatchRequest, intent: RoutingIntent, sink: ClientSink) =>
  Effect.gen(function*() {
    const headers = { "x-sollol-request-id": intent.requestId }
    // what a failed batch can still report: the chunks that landed, and where
    const landed = new Set<string>()
    let landedChunks = 0
    const result = yield* Effect.either(batchEmbed(batch.inputs, {
      model: batch.model,
      priority: intent.priority,
      extra: batch.extra,
      requestId: intent.requestId,
      onProgress: (p) => {
        landedChunks++
        landed.add(p.node)
      },
      ...(batch.batchSize !== undefined ? { batchSize: batch.batchSize } : {})
    }))
    if (result._tag === "Left") {
      const error = result.left
      // the attempt that failed the batch was tried too; its node answered only if it sent a status
      if (error._tag === "UpstreamError" && error.reason === "StatusCode") landed.add(error.nodeId)
      return sink.reject(error, {
        ...headers,
        "x-sollol-attempts": String(landedChunks + (error._tag === "UpstreamError" ? 1 : 0)),
        ...(landed.size > 0 ? { "x-sollol-node": [...landed].join(",") } : {})
      })
    }
    const r = result.right
    const nodes = Object.keys(r.chunksByNode)
    const body = encoder.encode(stringifyJson({
      model: r.model,
      embeddings: r.embeddings,
      total_duration: r.totalDuration,
      load_duration: r.loadDuration,
      prompt_eval_count: r.promptEvalCount,
      _sollol_routing: {
        request_id: intent.requestId,
        strategy: "batch-embed",
        nodes,
        chunks_by_node: r.chunksByNode,
        docs_by_node: r.docsByNode,
        retries: r.retries
      }
    }))
    sink.start(200, {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(body.byteLength),
      "x-sollol-node": nodes.join(","),
      "x-sollol-attempts": String(Object.values(r.chunksByNode).reduce((a, b) => a + b, 0) + r.retries)
    })
    sink.end(body)
  }) satisfies Effect.Effect<void, never, WorkflowServices>
