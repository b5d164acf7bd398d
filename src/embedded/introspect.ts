/** What `stats()` and `nodes()` report, read from the runtime's services (the same figures as /api/sollol/stats). */
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeInfo, Stats } from "../client/types.js"
import { AdmissionTag } from "../runtime/Admission.js"
import { DecisionLog } from "../runtime/DecisionLog.js"

const counts = (c: { ok: number; error: number; aborted: number; refused: number }) => ({
  ok: c.ok,
  error: c.error,
  aborted: c.aborted,
  refused: c.refused
})

export const statsOf: Effect.Effect<Stats, never, NodeRegistry | DecisionLog | AdmissionTag> = Effect.gen(function*() {
  const totals = yield* (yield* DecisionLog).totals
  const list = yield* (yield* NodeRegistry).list
  const depth = yield* (yield* AdmissionTag).depth
  return {
    requests: counts(totals.all),
    by_node: Object.fromEntries(Object.entries(totals.byNode).map(([node, c]) => [node, counts(c)])),
    queue: { depth },
    nodes: list.map((v) => ({ node: v.nodeId, health: v.health, in_flight: v.inFlight, slots: v.slots }))
  }
})

export const nodesOf: Effect.Effect<ReadonlyArray<NodeInfo>, never, NodeRegistry> = Effect.flatMap(
  NodeRegistry,
  (registry) => Effect.map(registry.list, (list) => list.map((v): NodeInfo => ({ ...v })))
)
