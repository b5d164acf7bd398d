/** What a request is, as the workflow sees it after analysis (DESIGN.md §2 step 2). */
import type { Priority } from "./Priority.js"

/** The routed endpoint family. OpenAI routes are routed like their native counterparts. */
export type RequestKind =
  | "chat"
  | "generate"
  | "embed"
  | "embeddings"
  | "show"
  | "openai-chat"
  | "openai-completions"
  | "openai-embeddings"

/** The routes that embed (native, legacy and OpenAI): no generation, a JSON answer. */
export const isEmbeddingKind = (kind: RequestKind): boolean =>
  kind === "embed" || kind === "embeddings" || kind === "openai-embeddings"

export type TaskType = "generation" | "embedding" | "classification" | "extraction" | "summarization" | "analysis"

export type Complexity = "simple" | "medium" | "complex"

/** The upstream call itself: what dispatch sends to a node. */
export interface UpstreamRequest {
  readonly method: string
  /** Path with query string, e.g. `/api/chat`. */
  readonly path: string
  /** Already filtered: no hop-by-hop headers, no `host`, no `content-length`. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
  /**
   * A body sent as it arrives instead (a blob upload, which can be gigabytes); `body` is then ignored. An upstream
   * that cannot stream a request body reads it whole first.
   */
  readonly stream?: AsyncIterable<Uint8Array>
}

/** A request after analysis: everything scoring needs, and the call to forward. */
export interface RoutingIntent {
  readonly requestId: string
  readonly kind: RequestKind
  /** Normalised (`normalizeModel`). */
  readonly model: string
  /** Whether the client expects a streamed body (NDJSON or SSE). */
  readonly stream: boolean
  readonly priority: Priority
  readonly taskType: TaskType
  readonly complexity: Complexity
  readonly promptTokens: number
  readonly conversationDepth: number
  /** `options.num_predict` when given, else an estimate. */
  readonly expectedOutputTokens: number
  /** Options whose change forces Ollama to reload the model (`num_ctx`, `num_gpu`, `num_batch`, …). */
  readonly loadOptions: Readonly<Record<string, number | string | boolean>>
  /** Hash of the conversation prefix; requests with the same key prefer the same node. */
  readonly affinityKey: string | undefined
  /** `keep_alive: 0`: the node unloads the model as soon as this request ends. */
  readonly unloadsModel: boolean
  /**
   * The request only unloads the model (`keep_alive: 0` with an empty prompt or no messages): it is sent to every
   * node that has the model instead of being routed (ollama-api.md §2).
   */
  readonly unloadOnly: boolean
  /** Milliseconds on Effect's clock when the request arrived. */
  readonly arrivedAt: number
  readonly upstream: UpstreamRequest
}
