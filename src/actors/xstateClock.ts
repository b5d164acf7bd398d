/**
 * An XState clock whose timers are Effect fibers, so `after` delays follow Effect's Clock (TestClock in tests).
 * Timers live in a FiberSet tied to the caller's Scope: closing it interrupts every pending timer.
 */
import { Effect, Fiber, FiberSet, Runtime } from "effect"
import type { Scope } from "effect"
import type { ActorOptions, AnyActorLogic } from "xstate"

/** XState does not export its `Clock` type. */
export type XStateClock = NonNullable<ActorOptions<AnyActorLogic>["clock"]>

export const makeXStateClock: Effect.Effect<XStateClock, never, Scope.Scope> = Effect.gen(function*() {
  const timers = yield* FiberSet.make<void>()
  const fork = yield* FiberSet.runtime(timers)<never>()
  const runtime = yield* Effect.runtime<never>()
  return {
    setTimeout: (fn: () => void, ms: number) => fork(Effect.sleep(ms).pipe(Effect.andThen(Effect.sync(fn)))),
    clearTimeout: (fiber: Fiber.RuntimeFiber<void>) => {
      Runtime.runFork(runtime)(Fiber.interrupt(fiber))
    }
  }
})
