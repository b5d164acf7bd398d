/** What the registry shows of a node: a NodeView for admin and the dashboard, a domain Candidate for strategies. */
import { Effect } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import type { Health } from "../domain/Health.js"
import type { NodeId } from "../domain/NodeId.js"
import type { NodeEntry, NodeFacts } from "./nodeEntry.js"
import { healthOf, isPreferred, isRoutable } from "./nodeMachine.js"
import type { NodeSnapshot } from "./nodeMachine.js"
import type { InstalledModel, LoadedModel } from "./probe.js"
import type { Residence } from "./residency.js"

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
    const f = yield* entry.facts.get
    return {
      nodeId: entry.handle.nodeId,
      url: entry.handle.url,
      health: healthOf(s),
      routable: servesNow(s, f),
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

/**
 * `size_vram / size` from `/api/ps` (see `Candidate.gpuShare`): the model's own entry when it is loaded, else over
 * every loaded model whose size the node reports; undefined when there is none.
 */
export const gpuShareOf = (loaded: ReadonlyArray<LoadedModel>, model: string): number | undefined => {
  let vram = 0
  let size = 0
  for (const l of loaded) {
    const bytes = l.size
    if (bytes <= 0) continue
    if (l.name === model) return Math.min(1, l.sizeVram / bytes)
    vram += Math.min(l.sizeVram, bytes)
    size += bytes
  }
  return size > 0 ? vram / size : undefined
}

/** The gateway's own record of the node's traffic first (it is newer), then what `/api/ps` said. */
const isResident = (residence: Residence, listed: boolean): boolean =>
  residence === undefined ? listed : residence === "resident"

/** The runner `/api/ps` lists for `model`: its own entry, or one of another tag of the same model file. */
export const loadedAs = (facts: NodeFacts, model: string): LoadedModel | undefined => {
  const own = facts.loaded.find((l) => l.name === model)
  if (own !== undefined) return own
  const file = facts.files.get(model)
  return file === undefined ? undefined : facts.loaded.find((l) => file.tags.includes(l.name))
}

export const hasModel = (facts: NodeFacts, model: string): boolean =>
  facts.models !== undefined && facts.models.some((m) => m.name === model)

/**
 * A node that can serve now, as `/healthz` and the node views count it: routable by its health machine, and with
 * its models listed (a node whose first probe failed is not routable yet).
 */
export const servesNow = (s: NodeSnapshot, facts: NodeFacts): boolean => isRoutable(s) && facts.models !== undefined

/**
 * The domain Candidate of a routable node (`s`: its snapshot, `isRoutable`) that has `model`. Synchronous: the
 * score step builds one per node per request from the plain fields the actor, probes and load keep.
 */
export const candidateAt = (
  entry: NodeEntry,
  s: NodeSnapshot,
  model: string,
  loadOptions: Readonly<Record<string, number | string | boolean>> | undefined,
  now: number
): Candidate => {
  // routable states are healthy, degraded and recovering's trial, never excluded
  const health = healthOf(s) as Candidate["health"]
  const facts = entry.facts.current()
  const loaded = loadedAs(facts, model)
  const numCtx = loadOptions?.["num_ctx"]
  let recentFailures = 0
  for (const failed of s.context.window) if (failed) recentFailures++
  return {
    nodeId: entry.handle.nodeId,
    health,
    preferred: isPreferred(s),
    inFlight: entry.handle.load.inFlightNow(),
    slots: entry.slots,
    ewmaMs: entry.handle.load.ewmaAt(now),
    modelLoaded: isResident(entry.handle.residency.of(model), loaded !== undefined),
    gpuShare: gpuShareOf(facts.loaded, loaded?.name ?? model),
    optionsMatch: loaded?.contextLength === undefined || typeof numCtx !== "number" || numCtx === loaded.contextLength,
    recentFailures,
    perf: undefined
  }
}
