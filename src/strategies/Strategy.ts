/**
 * The routing strategy contract: it only chooses among candidates the registry already filtered to routable nodes.
 * A strategy never does I/O and never changes health (tower/linkerd split); Layers swap one for another.
 */
import { Clock, Context, Effect } from "effect"
import type { Option } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import type { Pick } from "../domain/Decision.js"
import type { RoutingIntent } from "../domain/Request.js"

/** A choice made synchronously at `now` (Effect's clock, epoch ms); it may advance the strategy's own state. */
export type ChooseNow = (intent: RoutingIntent, candidates: ReadonlyArray<Candidate>, now: number) => Option.Option<Pick>

export class Strategy extends Context.Tag("sollol/Strategy")<Strategy, {
  /** The name shown in decisions, metrics and config (`round-robin`, `p2c-ewma`, …). */
  readonly name: string
  /** Picks one of `candidates`; None only when the list is empty. Never picks outside the list. */
  readonly choose: (intent: RoutingIntent, candidates: ReadonlyArray<Candidate>) => Effect.Effect<Option.Option<Pick>>
  /**
   * Optional: the very choice `choose` makes, without running an Effect, for a strategy that needs no service but
   * the clock. The runtime then calls it directly, which spares a fiber per decision (see `synchronous`).
   */
  readonly chooseNow?: ChooseNow
}>() {}

/**
 * A strategy that needs nothing but the time: `choose` reads Effect's Clock and calls `chooseNow`, and the runtime
 * calls `chooseNow` itself. Both are the same function, so they cannot disagree.
 */
export const synchronous = (name: string, chooseNow: ChooseNow): Strategy["Type"] => ({
  name,
  choose: (intent, candidates) => Effect.map(Clock.currentTimeMillis, (now) => chooseNow(intent, candidates, now)),
  chooseNow
})

/** Slot utilisation in [0, ∞): in-flight requests per parallel slot (a node reporting 0 slots counts as 1). */
export const loadOf = (candidate: Candidate): number => candidate.inFlight / Math.max(candidate.slots, 1)

/** `3 candidates`, `1 candidate`: for one-line reasonings. */
export const plural = (n: number): string => `${n} candidate${n === 1 ? "" : "s"}`
