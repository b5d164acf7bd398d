/** Tagged errors shared across layers. Statuses are assigned in one place: src/http/errorResponse.ts. */
import { Data } from "effect"
import type { NodeId } from "./NodeId.js"

/** The request itself is wrong (bad JSON, a field of the wrong type, a priority out of range…). */
export class BadRequest extends Data.TaggedError("BadRequest")<{
  /** `Path`: no such route (404); `Url`: a malformed request URL, such as an invalid percent escape (400). */
  readonly reason: "Json" | "Field" | "EmptyBody" | "TooLarge" | "Method" | "Path" | "Url"
  readonly message: string
}> {}

/** No node has the model (Ollama's own 404 text). */
export class ModelNotFound extends Data.TaggedError("ModelNotFound")<{
  readonly model: string
  /** The legacy `/api/embeddings` route, whose scheduler path words it differently (ollama-api.md §5). */
  readonly legacy?: boolean
}> {
  override get message() {
    // Ollama names the model as the client wrote it; the implicit `:latest` is not shown.
    const model = this.model.replace(/:latest$/, "")
    return this.legacy === true ? `model "${model}" not found, try pulling it first` : `model '${model}' not found`
  }
}

/** The 404 for `intent`'s model, worded as Ollama words it on that route. */
export const modelNotFoundFor = (intent: { readonly model: string; readonly kind: string }): ModelNotFound =>
  new ModelNotFound(intent.kind === "embeddings" ? { model: intent.model, legacy: true } : { model: intent.model })

/** Nodes have the model but none is routable now (all excluded, or all tried). */
export class NoCandidates extends Data.TaggedError("NoCandidates")<{
  readonly model: string
  /**
   * `Unlisted`: no node has the model as far as known, but some have not listed their models yet (unreachable).
   * `NoAnswer`: a question for every node (the merged model lists) that none answered.
   */
  readonly reason: "AllExcluded" | "AllTried" | "NoNodes" | "Unlisted" | "NoAnswer"
}> {
  override get message() {
    return this.reason === "NoNodes"
      ? "no Ollama node is configured"
      : this.reason === "NoAnswer"
      ? "no node answered: every Ollama node is unreachable"
      : this.reason === "Unlisted"
      ? `no routable node for model '${this.model}': the nodes that could have it have not answered /api/tags yet`
      : `no routable node for model '${this.model}'`
  }
}

/**
 * Why nothing can serve `intent`'s model: 404 only when some node is up and every node up has listed its models
 * without it. A node up that never listed them might have it, and with no node up the cluster is down rather than
 * the model missing: both are 503 (Ollama clients read a 404 as "pull the model"). An excluded node that never
 * answered does not keep a mistyped model name at 503 for ever.
 */
export const unservableError = (
  intent: { readonly model: string; readonly kind: string },
  found: { readonly hasModel: number; readonly unlisted: number; readonly routable: number },
  triedAny: boolean
): ModelNotFound | NoCandidates =>
  found.hasModel > 0 || found.routable === 0
    ? new NoCandidates({ model: intent.model, reason: triedAny ? "AllTried" : "AllExcluded" })
    : found.unlisted > 0
    ? new NoCandidates({ model: intent.model, reason: "Unlisted" })
    : modelNotFoundFor(intent)

/**
 * The gateway is full: its queue (`Full`), a wait past `queue.maxWaitMs` (`WaitTimeout`), or every node that could
 * serve the request answered Ollama's "server busy" a moment ago (`NodesBusy`: answered with Ollama's own words).
 */
export class QueueFull extends Data.TaggedError("QueueFull")<{
  readonly reason: "Full" | "WaitTimeout" | "NodesBusy"
  readonly retryAfterSeconds: number
}> {
  override get message() {
    return this.reason === "Full"
      ? "server busy: the request queue is full"
      : this.reason === "WaitTimeout"
      ? "server busy: waited too long for a free node"
      : "server busy, please try again.  maximum pending requests exceeded"
  }
}

/** One upstream attempt failed. `status` is the node's own status for `StatusCode`. */
export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  readonly nodeId: NodeId
  /**
   * `Closed`: the gateway itself closed its connections to the node (removed from the cluster, or shutting down).
   * `StreamError`: the node ended a 2xx stream with its own `{"error": …}` line (a failure mid-generation).
   */
  readonly reason:
    | "Transport"
    | "ConnectTimeout"
    | "FirstByteTimeout"
    | "IdleTimeout"
    | "TotalTimeout"
    | "StatusCode"
    | "Truncated"
    | "StreamError"
    | "Closed"
  readonly status?: number
  /** The node's error text, if it sent one. */
  readonly detail?: string
}> {
  override get message() {
    const base = `${this.reason} from ${this.nodeId}${this.status !== undefined ? ` (${this.status})` : ""}`
    return this.detail !== undefined ? `${base}: ${this.detail}` : base
  }
}

/** Authentication and authorisation failures. */
export class AuthError extends Data.TaggedError("AuthError")<{
  readonly reason: "Missing" | "Invalid" | "Forbidden" | "RateLimited"
  readonly message: string
  readonly retryAfterSeconds?: number
}> {}

/** The gateway is shutting down and accepts no new work. */
export class ShuttingDown extends Data.TaggedError("ShuttingDown")<{}> {
  override get message() {
    return "server is shutting down"
  }
}

/** Every error a request can end with; src/http/errorResponse.ts turns each into a status. */
/** A defect inside the gateway (a bug, or a custom strategy that throws): the request gets a 500, never silence. */
export class InternalError extends Data.TaggedError("InternalError")<{ readonly message: string }> {}

export type GatewayError =
  | BadRequest
  | ModelNotFound
  | NoCandidates
  | QueueFull
  | UpstreamError
  | AuthError
  | ShuttingDown
  | InternalError
