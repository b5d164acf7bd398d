/** What the registry shows of a node: a NodeView for admin and the dashboard, a domain Candidate for strategies. */
import { Effect, Ref } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import type { Health } from "../domain/Health.js"
import type { NodeId } from "../domain/NodeId.js"
import type { NodeEntry, NodeFacts } from "./nodeEntry.js"
import { healthOf, isPreferred, isRoutable } from "./nodeMachine.js"
import type { InstalledModel, LoadedModel } from "./probe.js"

export interface NodeView {
  readonly nodeId: NodeId
  readonly url: string
  readonly health: Health
  readonly routable: boolean
  /** Held excluded by an operator until `include`. */
  readonly drained: boolean
  readonly inFlight: number
  readonly slots: number
  readonly ewmaMs: number
  readonly models: ReadonlyArray<InstalledModel>
  readonly loaded: ReadonlyArray<LoadedModel>
  readonly ejections: number
  readonly consecutiveFailures: number
  readonly lastProbeAt: number | undefined
  readonly lastError: string | undefined
}

export const viewOf = (entry: NodeEntry): Effect.Effect<NodeView> =>
  Effect.gen(function*() {
    const s = yield* entry.handle.actor.snapshot
    const f = yield* Ref.get(entry.facts)
    return {
      nodeId: entry.handle.nodeId,
      url: entry.handle.url,
      health: healthOf(s),
      routable: isRoutable(s),
      drained: s.hasTag("drained"),
      inFlight: yield* entry.handle.load.inFlight,
      slots: entry.slots,
      ewmaMs: yield* entry.handle.load.ewmaMs,
      models: f.models ?? [],
      loaded: f.loaded,
      ejections: s.context.ejections,
      consecutiveFailures: s.context.consecutiveFailures,
      lastProbeAt: f.lastProbeAt,
      lastError: f.lastError
    }
  })

export const hasModel = (facts: NodeFacts, model: string): boolean =>
  facts.models !== undefined && facts.models.some((m) => m.name === model)

/** The domain Candidate of a node that has `model`, or `undefined` when the node is not routable. */
export const candidateOf = (
  entry: NodeEntry,
  model: string,
  loadOptions: Readonly<Record<string, number | string | boolean>> | undefined
): Effect.Effect<Candidate | undefined> =>
  Effect.gen(function*() {
    const s = yield* entry.handle.actor.snapshot
    const health = healthOf(s)
    if (!isRoutable(s) || health === "excluded") return undefined
    const f = yield* Ref.get(entry.facts)
    const loaded = f.loaded.find((l) => l.name === model)
    const numCtx = loadOptions?.["num_ctx"]
    return {
      nodeId: entry.handle.nodeId,
      health,
      preferred: isPreferred(s),
      inFlight: yield* entry.handle.load.inFlight,
      slots: entry.slots,
      ewmaMs: yield* entry.handle.load.ewmaMs,
      modelLoaded: loaded !== undefined,
      optionsMatch: loaded?.contextLength === undefined || typeof numCtx !== "number" ||
        numCtx === loaded.contextLength,
      recentFailures: s.context.window.filter((failed) => failed).length,
      perf: undefined
    }
  })
