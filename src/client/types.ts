/**
 * The request and response shapes shared by the embedded runtime (`createSollol`) and the SDK (`connect`): Ollama's
 * native API, loosely typed (extra fields pass through), plus per-call options and SOLLOL's stats.
 */
import type { BatchProgress as ChunkProgress } from "../runtime/batchEmbed.js"

/**
 * Where a batch stands. `createSollol` calls `onProgress` once per chunk that lands. `connect` cannot see chunks
 * land (the gateway answers a batch in one piece) and calls it once, at the end, with the whole batch: `chunks` as
 * the gateway counted them, `node` as its `X-SOLLOL-Node` header (the nodes, comma-separated), and `nodes`.
 */
export interface BatchProgress extends ChunkProgress {
  /** `connect` only: every node that embedded a chunk of the batch. */
  readonly nodes?: ReadonlyArray<string>
}

export interface Message {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly content: string
  readonly images?: ReadonlyArray<string>
  readonly [field: string]: unknown
}

interface Common {
  readonly model: string
  /** Ollama `options` (`num_predict`, `num_ctx`, `temperature`, …). */
  readonly options?: Readonly<Record<string, unknown>>
  readonly keep_alive?: string | number
  readonly [field: string]: unknown
}

export interface ChatRequest extends Common {
  readonly messages: ReadonlyArray<Message>
  readonly stream?: boolean
}

export interface GenerateRequest extends Common {
  readonly prompt: string
  readonly stream?: boolean
}

export interface EmbedRequest extends Common {
  readonly input: string | ReadonlyArray<string>
}

/** One parsed NDJSON chunk, or a whole non-streaming answer (with `_sollol_routing` unless disabled). */
export interface ChatResponse {
  readonly model: string
  readonly message?: Message
  readonly done: boolean
  readonly [field: string]: unknown
}

export interface GenerateResponse {
  readonly model: string
  readonly response: string
  readonly done: boolean
  readonly [field: string]: unknown
}

export interface EmbedResponse {
  readonly model: string
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>>
  readonly [field: string]: unknown
}

export interface CallOptions {
  /** 1 (batch) … 10 (most urgent). Default 5. */
  readonly priority?: number
  /** Aborting cancels the request (and the node's work). */
  readonly signal?: AbortSignal
}

export interface BatchEmbedCallOptions {
  readonly model: string
  /**
   * Most documents per chunk. Default 64; smaller chunks are cut when that leaves fewer than about four per routable
   * node (never under 8 documents), so the work can follow the nodes' speeds. Through `connect`, a batch of 64
   * documents or fewer is one ordinary `/api/embed` request to one node (the gateway's threshold), whatever the size.
   */
  readonly batchSize?: number
  readonly priority?: number
  /** See `BatchProgress`: per chunk with `createSollol`, once at the end with `connect`. */
  readonly onProgress?: (progress: BatchProgress) => void
  readonly signal?: AbortSignal
  /** Ollama's `/api/embed` options, sent with every chunk. */
  readonly dimensions?: number
  readonly truncate?: boolean
  readonly keep_alive?: string | number
  readonly options?: Readonly<Record<string, unknown>>
}

export interface BatchEmbedResponse {
  readonly model: string
  /** One vector per document, in input order. */
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>>
  readonly total_duration: number
  readonly load_duration: number
  readonly prompt_eval_count: number
  /** Chunks per node and documents per node. */
  readonly _sollol_routing: { readonly chunks_by_node: Readonly<Record<string, number>>; readonly docs_by_node: Readonly<Record<string, number>>; readonly retries: number }
}

export interface Stats {
  /** `refused`: answered by the gateway before any node was asked (bad body or priority, auth, rate limits). */
  readonly requests: { readonly ok: number; readonly error: number; readonly aborted: number; readonly refused: number }
  readonly by_node: Readonly<Record<string, { readonly ok: number; readonly error: number; readonly aborted: number; readonly refused: number }>>
  readonly queue: { readonly depth: number }
  readonly nodes: ReadonlyArray<{ readonly node: string; readonly health: string; readonly in_flight: number; readonly slots: number }>
}

export interface NodeInfo {
  readonly nodeId: string
  readonly url: string
  readonly health: string
  readonly routable: boolean
  readonly inFlight: number
  readonly slots: number
  readonly [field: string]: unknown
}

export interface CloseOptions {
  /** How long running calls may go on before they are cancelled, ms. Default: the config's `limits.shutdownGraceMs`. */
  readonly graceMs?: number
}

/**
 * A call's result by its request's `stream`: `true` streams, `false` or absent answers whole. A `stream` known only
 * as `boolean` (a request built in a variable, a value typed `ChatRequest`) may be either, so the caller must check.
 */
export type Streamed<R extends { readonly stream?: boolean }, A> = R extends { readonly stream: true } ? AsyncIterable<A>
  : "stream" extends keyof R ? (R extends { readonly stream?: false | undefined } ? A : A | AsyncIterable<A>)
  : A

/** The methods both `createSollol` and `connect` offer. Streams are async iterables of parsed chunks. */
export interface SollolApi {
  readonly chat: <R extends ChatRequest>(request: R, options?: CallOptions) => Promise<Streamed<R, ChatResponse>>
  readonly generate: <R extends GenerateRequest>(request: R, options?: CallOptions) => Promise<Streamed<R, GenerateResponse>>
  readonly embed: (request: EmbedRequest, options?: CallOptions) => Promise<EmbedResponse>
  /** Embeds many documents across the cluster in chunks; vectors come back in input order. */
  readonly batchEmbed: (documents: ReadonlyArray<string>, options: BatchEmbedCallOptions) => Promise<BatchEmbedResponse>
  readonly stats: () => Promise<Stats>
  readonly nodes: () => Promise<ReadonlyArray<NodeInfo>>
  /** `createSollol`: graceful shutdown (see `Sollol.close`). `connect`: nothing to release; a no-op. */
  readonly close: (options?: CloseOptions) => Promise<void>
}
