/**
 * The score step: candidates from the registry (routable, has the model, not yet tried, not blocked for this
 * model, not backing off after "server busy"), joined with what the learning store knows, handed to the
 * strategy; a pick on a node with a free slot reserves that slot at once. Panic mode lives here too.
 */
import { Clock, Effect, Option } from "effect"
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
  /** Nothing can ever serve this attempt: no node has the model, or every routable one was tried or blocked. */
  | { readonly _tag: "Unservable"; readonly hasModel: number }

/** Joins learned figures (read synchronously); a learned slot count replaces the default one unless configured. */
const enrich = (
  learning: LearningStore["Type"],
  configuredSlots: ReadonlySet<NodeId>,
  model: string,
  now: number,
  candidate: Candidate
): Candidate => {
  const perf = learning.perfAt(candidate.nodeId, model, now)
  const learnedSlots = configuredSlots.has(candidate.nodeId) ? undefined : learning.slotsNow(candidate.nodeId)
  return learnedSlots === undefined && perf === undefined
    ? candidate
    : { ...candidate, perf, slots: learnedSlots ?? candidate.slots }
}

export interface ScoringServices {
  readonly registry: NodeRegistry["Type"]
  readonly strategy: Strategy["Type"]
  readonly learning: LearningStore["Type"]
  readonly reliability: ReliabilityService
}

export interface ScoringOptions {
  readonly configuredSlots: ReadonlySet<NodeId>
  /** When nothing is routable for the model: try the least-recently-failed node instead of failing fast. */
  readonly panicMode: boolean
}

const reserve = (handle: NodeHandle, pick: Pick, candidates: number) =>
  Effect.map(handle.load.begin, (end): Option.Option<Grant<Reservation>> =>
    Option.some({ value: { _tag: "Picked", pick, handle, candidates }, release: end }))

const unservable = (hasModel: number): Option.Option<Grant<Reservation>> =>
  Option.some({ value: { _tag: "Unservable", hasModel }, release: Effect.void })

/**
 * Panic mode (Envoy's panic threshold, reduced to its last resort): the excluded node whose last failure is the
 * oldest, else a routable node whose model breaker is open. Only for a first attempt; retries never panic.
 */
const panicPick = (services: ScoringServices, intent: RoutingIntent, blocked: ReadonlyArray<Candidate>) =>
  Effect.gen(function*() {
    const excluded = yield* services.registry.leastRecentlyFailed(intent.model)
    const handle = Option.isSome(excluded)
      ? excluded
      : Option.flatMap(Option.fromNullable(blocked[0]), (c) => services.registry.get(c.nodeId))
    if (Option.isNone(handle)) return Option.none<NodeHandle>()
    return Option.some(handle.value)
  })

const panicCandidate = (handle: NodeHandle, inFlight: number): Candidate => ({
  nodeId: handle.nodeId,
  health: "degraded",
  preferred: false,
  inFlight,
  slots: 1,
  ewmaMs: 0,
  modelLoaded: false,
  optionsMatch: true,
  recentFailures: 0,
  perf: undefined
})

const waitForSlot: Effect.Effect<Option.Option<Grant<Reservation>>> = Effect.succeed(Option.none())

/** A first attempt that found nothing routable, in panic mode: a grant on the panic pick, else "unservable". */
const panicLook = (services: ScoringServices, intent: RoutingIntent, untried: ReadonlyArray<Candidate>, hasModel: number) =>
  Effect.gen(function*() {
    const handle = yield* panicPick(services, intent, untried)
    if (Option.isNone(handle)) return unservable(hasModel)
    const inFlight = yield* handle.value.load.inFlight
    const pick = simplePick(panicCandidate(handle.value, inFlight), "panic mode: no routable node, trying the least-recently-failed one")
    return yield* reserve(handle.value, pick, 0)
  })

/**
 * One look at the cluster for `intent`. `None` means "wait": the chosen node has no free slot now, or every
 * eligible node backs off after "server busy" (a wake-up is scheduled when that ends).
 * Must not block: it runs inside the admission critical section.
 */
export const tryReserve = (
  services: ScoringServices,
  intent: RoutingIntent,
  tried: ReadonlySet<NodeId>,
  options: ScoringOptions
): Effect.Effect<Option.Option<Grant<Reservation>>> =>
  // Plain flatMaps rather than a generator: under a deep queue this runs once per waiter per freed slot.
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.flatMap(services.registry.candidates(intent.model, intent.loadOptions), ({ candidates, hasModel }) => {
      const { learning, registry, reliability, strategy } = services
      const untried = candidates.filter((c) => !tried.has(c.nodeId))
      const eligible = untried.filter((c) => !reliability.modelBlocked(c.nodeId, intent.model, now))
      if (eligible.length === 0) {
        return options.panicMode && tried.size === 0 && hasModel.length > 0
          ? panicLook(services, intent, untried, hasModel.length)
          : Effect.succeed(unservable(hasModel.length))
      }
      const open = eligible.filter((c) => !reliability.busy(c.nodeId, now))
      if (open.length === 0) return waitForSlot
      const enriched = open.map((c) => enrich(learning, options.configuredSlots, intent.model, now, c))
      // Whatever the strategy picks would be full: skip scoring (under a deep queue most looks end here).
      if (enriched.every((c) => c.inFlight >= c.slots)) return waitForSlot
      // a request without num_predict is scored with the learned output length of its (model, task type)
      return Effect.flatMap(strategy.choose(withLearnedOutput(intent, learning.outputNow), enriched), (picked) => {
        if (Option.isNone(picked)) return waitForSlot
        const chosen = picked.value.candidate
        const handle = registry.get(chosen.nodeId)
        if (Option.isNone(handle) || chosen.inFlight >= chosen.slots) return waitForSlot
        return reserve(handle.value, picked.value, enriched.length)
      })
    }))
