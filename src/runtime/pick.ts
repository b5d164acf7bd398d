/**
 * The score step: candidates from the registry (routable, has the model, not yet tried, not blocked for this
 * model, not backing off after "server busy"), joined with what the learning store knows, handed to the
 * strategy; a pick on a node with a free slot reserves that slot at once. Panic mode lives here too.
 */
import { Cause, Effect, Exit, Option, Runtime } from "effect"
import type { Clock } from "effect"
import { beginRequest } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import type { NodeRegistry } from "../actors/NodeRegistry.js"
import type { Candidate } from "../domain/Candidate.js"
import { simplePick } from "../domain/Decision.js"
import type { Pick } from "../domain/Decision.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { Strategy } from "../strategies/Strategy.js"
import type { Grant } from "./Admission.js"
import { withLearnedOutput } from "./analyze.js"
import type { LearningStore } from "./LearningStore.js"
import type { ReliabilityService } from "./Reliability.js"

export type Reservation =
  | { readonly _tag: "Picked"; readonly pick: Pick; readonly handle: NodeHandle; readonly candidates: number }
  /**
   * Nothing can ever serve this attempt: no node has the model, or every routable one was tried or blocked.
   * `hasModel`: nodes that have it at all; `unlisted`: nodes that have not listed their models yet.
   */
  | { readonly _tag: "Unservable"; readonly hasModel: number; readonly unlisted: number; readonly routable: number }
  /**
   * Every node that could serve it answered "server busy" (its own queue is full) within the back-off: the cluster
   * refuses work as Ollama would, so the request is answered now rather than held. `retryAfterMs`: until the
   * earliest back-off ends.
   */
  | { readonly _tag: "Busy"; readonly retryAfterMs: number }

/** A node's parallel slots: as configured, else as learned, else the registry's default (`candidate.slots`). */
export const slotsOf = (
  learning: LearningStore["Type"],
  configuredSlots: ReadonlySet<NodeId>,
  candidate: { readonly nodeId: NodeId; readonly slots: number }
): number =>
  configuredSlots.has(candidate.nodeId) ? candidate.slots : learning.slotsNow(candidate.nodeId) ?? candidate.slots

/**
 * What the node has shown for `model`; until it has run this tag, what it showed for another tag of the same
 * model file (one runner, one speed).
 */
const perfOf = (services: ScoringServices, nodeId: NodeId, model: string, now: number) => {
  const own = services.learning.perfAt(nodeId, model, now)
  if (own !== undefined && own.samples > 0) return own
  const handle = services.registry.get(nodeId)
  if (Option.isNone(handle)) return own
  for (const tag of handle.value.fileOf(model)?.tags ?? []) {
    if (tag === model) continue
    const other = services.learning.perfAt(nodeId, tag, now)
    if (other !== undefined && other.samples > 0) return other
  }
  return own
}

/** Joins learned figures (read synchronously): performance for the model, and the slot count. */
const enrich = (
  services: ScoringServices,
  configuredSlots: ReadonlySet<NodeId>,
  model: string,
  now: number,
  candidate: Candidate
): Candidate => {
  const { learning } = services
  const perf = perfOf(services, candidate.nodeId, model, now)
  const slots = slotsOf(learning, configuredSlots, candidate)
  return slots === candidate.slots && perf === undefined ? candidate : { ...candidate, perf, slots }
}

export interface ScoringServices {
  readonly registry: NodeRegistry["Type"]
  readonly strategy: Strategy["Type"]
  readonly learning: LearningStore["Type"]
  readonly reliability: ReliabilityService
  /** Runs the strategy's (synchronous) choice with the request fiber's services: its Clock, its Random. */
  readonly runtime: Runtime.Runtime<never>
  readonly clock: Clock.Clock
}

export interface ScoringOptions {
  readonly configuredSlots: ReadonlySet<NodeId>
  /** When nothing is routable for the model: try the least-recently-failed node instead of failing fast. */
  readonly panicMode: boolean
}

const reserve = (handle: NodeHandle, intent: RoutingIntent, pick: Pick, candidates: number): Grant<Reservation> => ({
  value: { _tag: "Picked", pick, handle, candidates },
  release: beginRequest(handle, intent.model, intent.unloadsModel)
})

/** A grant that holds nothing: no node can serve the attempt (see `Reservation`). */
export const unservable = (hasModel: number, unlisted = 0, routable = 1): Grant<Reservation> => ({
  value: { _tag: "Unservable", hasModel, unlisted, routable },
  release: () => undefined
})

/**
 * Panic mode (Envoy's panic threshold, reduced to its last resort): the excluded node whose last failure is the
 * oldest, else a routable node whose model breaker is open. Only for a first attempt; retries never panic.
 */
const panicPick = (services: ScoringServices, intent: RoutingIntent, blocked: ReadonlyArray<Candidate>) =>
  Effect.map(services.registry.leastRecentlyFailed(intent.model), (excluded) =>
    Option.isSome(excluded)
      ? excluded
      : Option.flatMap(Option.fromNullable(blocked[0]), (c) => services.registry.get(c.nodeId)))

const panicCandidate = (handle: NodeHandle): Candidate => ({
  nodeId: handle.nodeId,
  health: "degraded",
  preferred: false,
  inFlight: handle.load.inFlightNow(),
  slots: 1,
  ewmaMs: 0,
  modelLoaded: false,
  optionsMatch: true,
  recentFailures: 0,
  perf: undefined
})

/** A first attempt that found nothing routable, in panic mode: a grant on the panic pick, else "unservable". */
const panicLook = (services: ScoringServices, intent: RoutingIntent, untried: ReadonlyArray<Candidate>, hasModel: number) => {
  const handle = Runtime.runSync(services.runtime)(panicPick(services, intent, untried))
  if (Option.isNone(handle)) return unservable(hasModel)
  const pick = simplePick(panicCandidate(handle.value), "panic mode: no routable node, trying the least-recently-failed one")
  return reserve(handle.value, intent, pick, 0)
}

/** A strategy that failed must not strand the request: the first candidate with a free slot is taken. */
const fallbackPick = (services: ScoringServices, candidates: ReadonlyArray<Candidate>, why: string) => {
  const fallback = candidates.find((c) => c.inFlight < c.slots)
  return fallback && simplePick(fallback, `strategy ${services.strategy.name} failed (${why}); took the first free candidate`)
}

/**
 * The strategy's choice. It never waits (no I/O), so it runs synchronously here: `chooseNow` when the strategy
 * has one (no fiber per decision), else its `choose` Effect run to completion on the request's services.
 */
const choose = (services: ScoringServices, intent: RoutingIntent, candidates: ReadonlyArray<Candidate>) => {
  const { chooseNow } = services.strategy
  if (chooseNow !== undefined) {
    try {
      return checked(services, candidates, Option.getOrUndefined(chooseNow(intent, candidates, services.clock.unsafeCurrentTimeMillis())))
    } catch (e) {
      return fallbackPick(services, candidates, e instanceof Error ? e.message : String(e))
    }
  }
  // a `choose` that throws while building its Effect fails like one whose Effect dies
  const exit = Runtime.runSyncExit(services.runtime)(Effect.suspend(() => services.strategy.choose(intent, candidates)))
  if (Exit.isSuccess(exit)) return checked(services, candidates, Option.getOrUndefined(exit.value))
  return fallbackPick(services, candidates, Cause.pretty(exit.cause).split("\n")[0] ?? "")
}

/**
 * The contract (`Strategy`): a pick among the candidates, None only for none. A strategy that breaks it is treated
 * as one that failed, rather than left to strand the request (None) or to route past the filters (a node that is
 * not a candidate may be excluded, or lack the model).
 */
const checked = (services: ScoringServices, candidates: ReadonlyArray<Candidate>, picked: Pick | undefined) => {
  if (picked === undefined) return fallbackPick(services, candidates, "it chose nothing")
  if (candidates.some((c) => c.nodeId === picked.candidate.nodeId)) return picked
  return fallbackPick(services, candidates, `it chose ${picked.candidate.nodeId}, which is not a candidate`)
}

/**
 * One synchronous look at the cluster for `intent`: a grant (a reserved slot, "unservable", or "busy" when every
 * eligible node backs off after "server busy"), or undefined to wait for a slot of the chosen node. It runs
 * whenever capacity may have freed, possibly for another request's waiter.
 */
export const reserver = (
  services: ScoringServices,
  intent: RoutingIntent,
  tried: ReadonlySet<NodeId>,
  options: ScoringOptions
) =>
(): Grant<Reservation> | undefined => {
  const { clock, learning, registry, reliability } = services
  const now = clock.unsafeCurrentTimeMillis()
  const { candidates, hasModel, routable, unlisted } = registry.candidatesNow(intent.model, intent.loadOptions, now)
  const untried = candidates.filter((c) => !tried.has(c.nodeId))
  const eligible = untried.filter((c) => !reliability.modelBlocked(c.nodeId, intent.model, now))
  if (eligible.length === 0) {
    return options.panicMode && tried.size === 0 && hasModel.length > 0
      ? panicLook(services, intent, untried, hasModel.length)
      : unservable(hasModel.length, unlisted, routable)
  }
  const open = eligible.filter((c) => !reliability.busy(c.nodeId, now))
  if (open.length === 0) {
    const retryAfterMs = Math.min(...eligible.map((c) => reliability.busyFor(c.nodeId, now)))
    return { value: { _tag: "Busy", retryAfterMs }, release: () => undefined }
  }
  const enriched = open.map((c) => enrich(services, options.configuredSlots, intent.model, now, c))
  // Whatever the strategy picks would be full: skip scoring (under a deep queue most looks end here).
  if (enriched.every((c) => c.inFlight >= c.slots)) return undefined
  const picked = choose(services, withLearnedOutput(intent, learning.outputNow), enriched)
  if (picked === undefined || picked.candidate.inFlight >= picked.candidate.slots) return undefined
  const handle = registry.get(picked.candidate.nodeId)
  return Option.isSome(handle) ? reserve(handle.value, intent, picked, enriched.length) : undefined
}
