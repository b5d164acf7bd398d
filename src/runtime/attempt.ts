/**
 * One attempt: a slot on a chosen node (through the priority queue, or for a hedge only if one is free now), then
 * `dispatch`. The slot is held from admission to the end of the attempt and released on every exit.
 */
import { Effect } from "effect"
import { QueueFull, unservableError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { ClientSink } from "./ClientSink.js"
import { dispatch } from "./dispatch.js"
import type { AttemptContext } from "./dispatch.js"
import { reserver, unservable } from "./pick.js"
import type { Reservation } from "./pick.js"
import type { AttemptFailure, AttemptOptions, Progress } from "./progress.js"

export { attemptContext } from "./dispatch.js"
export type { AttemptContext } from "./dispatch.js"
export { latencyKey, makeProgress, routingHeaders, routingInfo } from "./progress.js"
export type { AttemptFailure, AttemptOptions, Progress } from "./progress.js"

/**
 * An attempt: a slot (through the priority queue, or for a hedge only if one is free now), then `dispatch`.
 * The slot is released on every exit and the freed capacity handed to waiters.
 */
export const attempt = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  tried: Set<NodeId>,
  options: AttemptOptions
): Effect.Effect<true, AttemptFailure> =>
  Effect.suspend(() => {
    const clock = ctx.scoring.clock
    const queuedAt = clock.unsafeCurrentTimeMillis()
    const tryAcquire = reserver(ctx.scoring, intent, tried, ctx.settings)
    const use = (reservation: Reservation): Effect.Effect<true, AttemptFailure> => {
      progress.queueWaitMs += clock.unsafeCurrentTimeMillis() - queuedAt
      if (reservation._tag === "Picked") return dispatch(ctx, intent, client, progress, tried, options, reservation)
      if (reservation._tag === "Busy") {
        const retryAfterSeconds = Math.max(1, Math.ceil(reservation.retryAfterMs / 1000))
        return Effect.fail(new QueueFull({ reason: "NodesBusy", retryAfterSeconds }))
      }
      return Effect.fail(unservableError(intent, reservation, tried.size > 0))
    }
    if (options.admission === "queue") {
      const request = { priority: intent.priority, arrivedAt: intent.arrivedAt, waitingSince: intent.arrivedAt, group: intent.model, tryAcquire }
      return ctx.admission.withSlot(request, use)
    }
    return ctx.admission.withGrant(() => tryAcquire() ?? unservable(1), use)
  })
