/** Hosts one node machine in a Scope: events in through `send`, health out as a Stream; the scope's end stops it. */
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { createActor } from "xstate"
import type { Health } from "../domain/Health.js"
import { healthOf, isRoutable, nodeMachine } from "./nodeMachine.js"
import type { NodeEvent, NodeMachineInput, NodeSnapshot } from "./nodeMachine.js"
import { makeXStateClock } from "./xstateClock.js"

export interface NodeActor {
  /** Delivers one event to the machine (synchronously, in order). */
  readonly send: (event: NodeEvent) => Effect.Effect<void>
  /** `send`, synchronously (XState's `send` is synchronous; the hot path reports every request this way). */
  readonly sendNow: (event: NodeEvent) => void
  readonly snapshot: Effect.Effect<NodeSnapshot>
  /** The current snapshot, read synchronously (the score step reads it for every node). */
  readonly current: () => NodeSnapshot
  readonly health: Effect.Effect<Health>
  /** The `routable` tag of the current state. */
  readonly routable: Effect.Effect<boolean>
  /** Current snapshot first, then every new one; ends when the actor stops. */
  readonly snapshots: Stream.Stream<NodeSnapshot>
  /** Current health first, then each change (deduplicated). */
  readonly changes: Stream.Stream<Health>
}

export const make = (input: NodeMachineInput): Effect.Effect<NodeActor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* makeXStateClock
    const actor = yield* Effect.acquireRelease(
      Effect.sync(() => createActor(nodeMachine, { input, clock }).start()),
      (actor) => Effect.sync(() => actor.stop())
    )
    const snapshot = Effect.sync(() => actor.getSnapshot())
    // XState's subscribe does not replay the current snapshot (STACK.md gotcha 4): emit it first.
    const snapshots = Stream.async<NodeSnapshot>((emit) => {
      void emit.single(actor.getSnapshot())
      const subscription = actor.subscribe({
        next: (s) => void emit.single(s),
        complete: () => void emit.end()
      })
      return Effect.sync(() => subscription.unsubscribe())
    })
    // Health changes rarely while snapshots change on every request: compare in the subscriber, so the stream
    // (and its fiber) only wakes for a change, not once per request.
    const changes = Stream.async<Health>((emit) => {
      let last = healthOf(actor.getSnapshot())
      void emit.single(last)
      const subscription = actor.subscribe({
        next: (s) => {
          const health = healthOf(s)
          if (health === last) return
          last = health
          void emit.single(health)
        },
        complete: () => void emit.end()
      })
      return Effect.sync(() => subscription.unsubscribe())
    })
    return {
      send: (event) => Effect.sync(() => actor.send(event)),
      sendNow: (event) => actor.send(event),
      snapshot,
      current: () => actor.getSnapshot(),
      health: Effect.map(snapshot, healthOf),
      routable: Effect.map(snapshot, isRoutable),
      snapshots,
      changes
    }
  })
