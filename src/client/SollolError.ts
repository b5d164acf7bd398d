/** The one error type the Promise APIs (createSollol and connect) throw: an HTTP-like status and the message. */
import { Data } from "effect"

export class SollolError extends Data.TaggedError("SollolError")<{
  /** The status the gateway would answer with (400 bad request, 404 unknown model, 503 no node, 502/504 upstream). */
  readonly status: number
  readonly message: string
  /** The request's id, when one was assigned. */
  readonly requestId?: string
}> {}
