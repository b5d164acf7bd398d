/**
 * The client side of one request, as the workflow writes to it. The gateway backs it with a node:http response,
 * the embedded runtime with an async iterable; the workflow never knows which.
 */
import type { GatewayError } from "../domain/errors.js"

export type ResponseHeaders = Record<string, string | Array<string>>

export interface ClientSink {
  /** Sends status and headers. Called at most once, before any `write`. */
  readonly start: (status: number, headers: ResponseHeaders) => void
  /** Sends one body chunk; `false` asks the writer to wait for `onDrain`. */
  readonly write: (chunk: Uint8Array) => boolean | void
  readonly onDrain?: (resume: () => void) => void
  /** Ends the body, optionally with a last chunk. */
  readonly end: (last?: Uint8Array) => void
  /** The body broke after `start`: ends it with an explicit error in the route's framing (never a silent cut). */
  readonly fail: (message: string) => void
  /** Nothing was sent yet: answers with this error instead; returns the status sent, when there is one. */
  readonly reject: (error: GatewayError, headers: ResponseHeaders) => number | void
  /**
   * Why the gateway itself is cutting this request (shutdown), set before it interrupts the work and answers the
   * client (503, or an error line after the first byte): the record step tells such a cut from a client leaving.
   */
  readonly cutReason?: () => string | undefined
  /** Whether the response to the client is in the SSE framing (OpenAI streams) rather than NDJSON/JSON. */
  readonly framing: "ndjson" | "sse" | "json"
}
