/**
 * The SDK for a running gateway: the same methods as `createSollol`, over HTTP with undici. Streams are async
 * iterables parsed from NDJSON; every error is a SollolError with the gateway's status and message.
 */
import { fetch } from "undici"
import { NodeId } from "../domain/NodeId.js"
import { makeLineParser } from "../embedded/channel.js"
import { checkBatch, checkRequest, requestJson } from "./requestJson.js"
import { SollolError } from "./SollolError.js"
import type { BatchEmbedResponse, BatchProgress, CallOptions, NodeInfo, SollolApi, Stats } from "./types.js"

export interface ConnectOptions {
  /** Sent as `Authorization: Bearer <key>` when the gateway has auth on; none when undefined. */
  readonly apiKey?: string | undefined
  /** Default priority of every call (1–10); a call's own `priority` wins. Default: the gateway's (5). */
  readonly priority?: number | undefined
}

const errorOf = async (res: Response | import("undici").Response): Promise<SollolError> => {
  const text = await res.text().catch(() => "")
  let message = text || res.statusText
  try {
    const body = JSON.parse(text) as { error?: unknown }
    if (typeof body.error === "string") message = body.error
    else if (typeof body.error === "object" && body.error !== null && "message" in body.error) message = String(body.error.message)
  } catch {
    // not JSON: keep the text
  }
  const requestId = res.headers.get("x-sollol-request-id")
  return new SollolError({ status: res.status, message, ...(requestId !== null ? { requestId } : {}) })
}

/**
 * Reading an answer's body failed: 499 when the caller's signal stopped it (as before the first byte), else the
 * connection broke (the gateway went away mid-answer), a 502 as when a node breaks a stream.
 */
const bodyError = (error: unknown, signal: AbortSignal | undefined, requestId: string | undefined): SollolError => {
  if (error instanceof SollolError) return error
  const id = requestId !== undefined ? { requestId } : {}
  return signal?.aborted === true
    ? new SollolError({ status: 499, message: "request aborted", ...id })
    : new SollolError({ status: 502, message: `the answer was cut short: ${error instanceof Error ? error.message : String(error)}`, ...id })
}

/** Parses an NDJSON body chunk by chunk; a `{"error": …}` line or a broken body ends the iteration with a SollolError. */
async function* ndjson<A>(body: AsyncIterable<Uint8Array>, requestId: string | undefined, signal: AbortSignal | undefined): AsyncGenerator<A> {
  const values: Array<unknown> = []
  const parser = makeLineParser((v) => values.push(v))
  const drain = function*() {
    for (const v of values.splice(0)) {
      const error = typeof v === "object" && v !== null ? (v as { error?: unknown }).error : undefined
      if (typeof error === "string") throw new SollolError({ status: 502, message: error, ...(requestId ? { requestId } : {}) })
      yield v as A
    }
  }
  try {
    for await (const chunk of body) {
      parser.write(chunk)
      yield* drain()
    }
    parser.end()
  } catch (error) {
    throw bodyError(error, signal, requestId)
  }
  yield* drain()
}

type Counts = Readonly<Record<string, number>>

const isCounts = (v: unknown): v is Counts =>
  typeof v === "object" && v !== null && Object.values(v).every((n) => typeof n === "number")

/**
 * Where the gateway says a batch of `documents` went. Above its threshold (64 inputs) the answer's
 * `_sollol_routing` has chunks and documents per node; at or below it the batch was one ordinary request, so one
 * chunk on the node that `_sollol_routing.node`, or else the `X-SOLLOL-Node` header, names.
 */
export const batchRoutingOf = (
  documents: number,
  routing: Readonly<Record<string, unknown>>,
  nodeHeader: string | null
): { readonly chunksByNode: Counts; readonly docsByNode: Counts; readonly retries: number } => {
  const retries = typeof routing["retries"] === "number" ? routing["retries"] : 0
  if (isCounts(routing["chunks_by_node"]) && isCounts(routing["docs_by_node"])) {
    return { chunksByNode: routing["chunks_by_node"], docsByNode: routing["docs_by_node"], retries }
  }
  const node = typeof routing["node"] === "string" ? routing["node"] : nodeHeader?.split(",")[0]?.trim()
  if (node === undefined || node === "") return { chunksByNode: {}, docsByNode: {}, retries }
  return { chunksByNode: { [node]: 1 }, docsByNode: { [node]: documents }, retries }
}

/** A client for the gateway at `url` (e.g. `http://127.0.0.1:8000`). */
export const connect = (url: string, options: ConnectOptions = {}): SollolApi => {
  const base = url.replace(/\/+$/, "")
  // a URL that cannot be one is the caller's mistake (400), not an unreachable gateway (503, which clients retry)
  const badUrl = URL.canParse(base) && /^https?:$/.test(new URL(base).protocol)
    ? undefined
    : new SollolError({ status: 400, message: `invalid gateway URL ${JSON.stringify(url)}: expected http(s)://host:port` })
  const headersFor = (call: CallOptions | undefined): Record<string, string> => {
    const headers: Record<string, string> = { "content-type": "application/json" }
    if (options.apiKey !== undefined) headers["authorization"] = `Bearer ${options.apiKey}`
    const priority = call?.priority ?? options.priority
    if (priority !== undefined) headers["x-sollol-priority"] = String(priority)
    return headers
  }
  const send = async (method: string, path: string, body: unknown, call?: CallOptions) => {
    if (badUrl !== undefined) throw badUrl
    const res = await fetch(`${base}${path}`, {
      method,
      headers: headersFor(call),
      ...(body !== undefined ? { body: requestJson(body) } : {}),
      ...(call?.signal !== undefined ? { signal: call.signal } : {})
    }).catch((error: unknown) => {
      const aborted = call?.signal?.aborted === true
      throw new SollolError({ status: aborted ? 499 : 503, message: aborted ? "request aborted" : `cannot reach ${base}: ${String(error)}` })
    })
    if (res.status >= 400) throw await errorOf(res)
    return res
  }
  /** A whole JSON answer; a body that breaks off is a SollolError too. */
  const answerOf = async <A>(res: import("undici").Response, call?: CallOptions): Promise<A> => {
    try {
      return (await res.json()) as A
    } catch (error) {
      throw bodyError(error, call?.signal, res.headers.get("x-sollol-request-id") ?? undefined)
    }
  }
  const json = async <A>(method: string, path: string, body?: unknown, call?: CallOptions): Promise<A> =>
    answerOf<A>(await send(method, path, body, call), call)
  const routed = async <A>(path: string, request: { readonly stream?: boolean }, call?: CallOptions): Promise<A> => {
    checkRequest(request)
    const stream = request.stream === true
    let body: Record<string, unknown>
    try {
      body = { ...request, stream }
    } catch (error) {
      // a getter that throws: the request is unreadable, as createSollol reports it
      throw new SollolError({ status: 400, message: `invalid request: ${error instanceof Error ? error.message : String(error)}` })
    }
    const res = await send("POST", path, body, call)
    if (!stream) return answerOf<A>(res, call)
    if (res.body === null) throw new SollolError({ status: 502, message: "empty stream" })
    return ndjson(res.body, res.headers.get("x-sollol-request-id") ?? undefined, call?.signal) as A
  }

  return {
    chat: (request, call) => routed("/api/chat", request, call),
    generate: (request, call) => routed("/api/generate", request, call),
    embed: (request, call) => json("POST", "/api/embed", request, call),
    /**
     * The gateway answers a batch in one piece, so `onProgress` is called once, when it arrives (never for no
     * documents): `chunks` and `nodes` are the gateway's own counts, `node` its `X-SOLLOL-Node` header. Use
     * `createSollol` for a call per chunk.
     */
    batchEmbed: async (documents, batch): Promise<BatchEmbedResponse> => {
      checkBatch(documents, batch)
      const { batchSize, model, onProgress, priority, signal, ...extra } = batch
      const answer = await send("POST", "/api/embed", {
        ...extra,
        model,
        input: documents,
        ...(batchSize !== undefined ? { sollol_batch_size: batchSize } : {})
      }, {
        ...(priority !== undefined ? { priority } : {}),
        ...(signal !== undefined ? { signal } : {})
      })
      const res = await answerOf<Record<string, unknown>>(answer, batch)
      const routing = (res["_sollol_routing"] ?? {}) as Record<string, unknown>
      const { chunksByNode, docsByNode, retries } = batchRoutingOf(documents.length, routing, answer.headers.get("x-sollol-node"))
      const nodes = Object.keys(chunksByNode)
      const chunks = Object.values(chunksByNode).reduce((a, b) => a + b, 0)
      if (onProgress !== undefined && documents.length > 0) {
        const progress: BatchProgress = {
          done: documents.length,
          total: documents.length,
          chunksDone: chunks,
          chunks,
          node: NodeId(answer.headers.get("x-sollol-node") ?? nodes.join(",")),
          nodes
        }
        try {
          onProgress(progress)
        } catch {
          // as with createSollol: a throwing callback does not fail the batch
        }
      }
      return {
        model: String(res["model"] ?? model),
        embeddings: (res["embeddings"] ?? []) as ReadonlyArray<ReadonlyArray<number>>,
        total_duration: Number(res["total_duration"] ?? 0),
        load_duration: Number(res["load_duration"] ?? 0),
        prompt_eval_count: Number(res["prompt_eval_count"] ?? 0),
        _sollol_routing: { chunks_by_node: chunksByNode, docs_by_node: docsByNode, retries }
      }
    },
    stats: () => json<Stats>("GET", "/api/sollol/stats"),
    nodes: async (): Promise<ReadonlyArray<NodeInfo>> => (await json<{ nodes: ReadonlyArray<NodeInfo> }>("GET", "/api/sollol/nodes")).nodes,
    close: async () => undefined
  }
}
