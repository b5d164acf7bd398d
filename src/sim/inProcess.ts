/** A simulated node behind the gateway's `Upstream` seam: no sockets, Effect's clock, so TestClock drives it. */
import { Effect } from "effect"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { UpstreamRequest } from "../domain/Request.js"
import type { Upstream } from "../domain/Upstream.js"
import type { SimNode } from "./SimNode.js"

/** A streamed request body read whole: the simulated node takes its body as one buffer. */
const wholeBody = (request: UpstreamRequest, nodeId: NodeId): Effect.Effect<UpstreamRequest, UpstreamError> => {
  const stream = request.stream
  if (stream === undefined) return Effect.succeed(request)
  return Effect.tryPromise({
    try: async () => {
      const chunks: Array<Uint8Array> = []
      for await (const chunk of stream) chunks.push(chunk)
      return { method: request.method, path: request.path, headers: request.headers, body: Buffer.concat(chunks) }
    },
    catch: (error) => new UpstreamError({ nodeId, reason: "Transport", detail: String(error) })
  })
}

/** `send` is the node's own `handle`; its errors carry `nodeId`. */
export const simUpstream = (node: SimNode, nodeId: NodeId): Upstream => ({
  nodeId,
  url: `sim://${node.name}`,
  send: (request, accept) =>
    Effect.flatMap(wholeBody(request, nodeId), (whole) => node.handle(whole, accept)).pipe(
      Effect.mapError((e) =>
        e.nodeId === nodeId ? e : new UpstreamError({
          nodeId,
          reason: e.reason,
          ...(e.status !== undefined ? { status: e.status } : {}),
          ...(e.detail !== undefined ? { detail: e.detail } : {})
        })
      )
    )
})
