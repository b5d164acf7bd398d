/** A simulated node behind the gateway's `Upstream` seam: no sockets, Effect's clock, so TestClock drives it. */
import { Effect } from "effect"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { Upstream } from "../domain/Upstream.js"
import type { SimNode } from "./SimNode.js"

/** `send` is the node's own `handle`; its errors carry `nodeId`. */
export const simUpstream = (node: SimNode, nodeId: NodeId): Upstream => ({
  nodeId,
  url: `sim://${node.name}`,
  send: (request, accept) =>
    node.handle(request, accept).pipe(
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
