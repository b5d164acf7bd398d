/** Builds a `Reply` over the Upstream contract's `accept`/`BodySink`, applying HEAD, truncation and backpressure. */
import { Effect } from "effect"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import type { Reply } from "./wire.js"

const encoder = new TextEncoder()

export interface ReplyOptions {
  readonly nodeId: NodeId
  /** A HEAD request: the head is sent, body chunks are dropped. */
  readonly headOnly: boolean
  /** Fail with a connection reset instead of writing chunk number `truncateAfter + 1`. */
  readonly truncateAfter: number | undefined
}

export const makeReply = (accept: (head: UpstreamHead) => BodySink, options: ReplyOptions): Reply & { readonly sent: () => boolean } => {
  let sink: BodySink | undefined
  let chunks = 0
  return {
    sent: () => sink !== undefined,
    head: (status, headers) =>
      Effect.sync(() => {
        if (sink === undefined) sink = accept({ status, headers })
      }),
    write: (chunk) =>
      Effect.suspend(() => {
        if (options.headOnly || sink === undefined) return Effect.void
        if (options.truncateAfter !== undefined && chunks >= options.truncateAfter) {
          return Effect.fail(new UpstreamError({ nodeId: options.nodeId, reason: "Transport", detail: "connection reset" }))
        }
        chunks++
        const target = sink
        const accepted: unknown = target.write(encoder.encode(chunk))
        const onDrain = (target as { readonly onDrain?: (resume: () => void) => void }).onDrain
        if (accepted !== false || onDrain === undefined) return Effect.void
        return Effect.async<void>((resume) => onDrain(() => resume(Effect.void)))
      })
  }
}
