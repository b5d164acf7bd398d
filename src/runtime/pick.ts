/**
 * The score step: candidates from the registry (routable, has the model, not yet tried), joined with what the
 * learning store knows, handed to the strategy; a pick on a node with a free slot reserves that slot at once.
 */
import { Effect, Option } from "effect"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import type { NodeRegistry } from "../actors/NodeRegistry.js"
import type { Candidate } from "../domain/Candidate.js"
import type { Pick } from "../domain/Decision.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { Strategy } from "../strategies/Strategy.js"
import type { Grant } from "./Admission.js"
import type { LearningStore } from "./LearningStore.js"

export type Reservation =
  | { readonly _tag: "Picked"; readonly pick: Pick; readonly handle: NodeHandle; readonly candidates: number }
  /** Nothing can ever serve this attempt: no node has the model, or every routable one was tried. */
  | { readonly _tag: "Unservable"; readonly hasModel: number }

/** Joins learned figures; a learned slot count replaces the default one unless slots were configured. */
const enrich = (learning: LearningStore["Type"], configuredSlots: ReadonlySet<NodeId>, model: string) =>
(candidate: Candidate): Effect.Effect<Candidate> =>
  Effect.gen(function*() {
    const perf = yield* learning.perf(candidate.nodeId, model)
    const learnedSlots = configuredSlots.has(candidate.nodeId) ? undefined : yield* learning.slots(candidate.nodeId)
    return learnedSlots === undefined && perf === undefined
      ? candidate
      : { ...candidate, perf, slots: learnedSlots ?? candidate.slots }
  })

/**
 * One look at the cluster for `intent`. `None` means "wait": the chosen node has no free slot now.
 * Must not block: it runs inside the admission critical section.
 */
export interface ScoringServices {
  readonly registry: NodeRegistry["Type"]
  readonly strategy: Strategy["Type"]
  readonly learning: LearningStore["Type"]
}

export const tryReserve = (
  services: ScoringServices,
  intent: RoutingIntent,
  tried: ReadonlySet<NodeId>,
  configuredSlots: ReadonlySet<NodeId>
): Effect.Effect<Option.Option<Grant<Reservation>>> =>
  Effect.gen(function*() {
    const { learning, registry, strategy } = services
    const { candidates, hasModel } = yield* registry.candidates(intent.model, intent.loadOptions)
    const eligible = candidates.filter((c) => !tried.has(c.nodeId))
    if (eligible.length === 0) {
      return Option.some({ value: { _tag: "Unservable", hasModel: hasModel.length }, release: Effect.void })
    }
    const enriched = yield* Effect.forEach(eligible, enrich(learning, configuredSlots, intent.model))
    const picked = yield* strategy.choose(intent, enriched)
    if (Option.isNone(picked)) return Option.none()
    const chosen = picked.value.candidate
    const handle = registry.get(chosen.nodeId)
    if (Option.isNone(handle) || chosen.inFlight >= chosen.slots) return Option.none()
    const end = yield* handle.value.load.begin
    return Option.some({
      value: { _tag: "Picked", pick: picked.value, handle: handle.value, candidates: enriched.length },
      release: end
    })
  })
