/**
 * The embedded runtime's lifetime, DESIGN §4.4's graceful shutdown without the HTTP server: the calls that are
 * running, and `close`: refuse new calls at once, let running ones finish until the grace deadline, stop what is
 * left (their callers get 503), then dispose the runtime.
 */
import { Effect, Fiber } from "effect"
import type { StoppedBy } from "./errors.js"

export interface Tracked<A, E> {
  readonly fiber: Fiber.RuntimeFiber<A, E>
  /** Interrupts the call if it still runs; the first reason given is kept. */
  readonly stop: (by: StoppedBy) => void
  readonly stoppedBy: () => StoppedBy | undefined
}

export interface Lifecycle {
  /** True from the moment `close` is called. */
  readonly closed: () => boolean
  /** Counts `fiber` as running until it exits; aborting `signal` stops it as the caller. */
  readonly track: <A, E>(fiber: Fiber.RuntimeFiber<A, E>, signal?: AbortSignal) => Tracked<A, E>
  /** Idempotent: a second call returns the first one's promise. */
  readonly close: (graceMs: number, dispose: () => Promise<void>) => Promise<void>
}

export const makeLifecycle = (): Lifecycle => {
  const running = new Set<Tracked<unknown, unknown>>()
  let idle: Array<() => void> = []
  let closing: Promise<void> | undefined

  const whenIdle = () => (running.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve)))
  /** A timer on Effect's clock: `elapsed` resolves after `ms` (or when cleared: by then the race is over). */
  const deadline = (ms: number) => {
    if (ms === Infinity) return { elapsed: new Promise<void>(() => undefined), clear: () => undefined }
    const timer = Effect.runFork(Effect.sleep(ms))
    const elapsed = new Promise<void>((resolve) => timer.addObserver(() => resolve()))
    return { elapsed, clear: () => void Effect.runFork(Fiber.interrupt(timer)) }
  }

  const track = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, signal?: AbortSignal): Tracked<A, E> => {
    let by: StoppedBy | undefined
    const stop = (reason: StoppedBy) => {
      if (by !== undefined || fiber.unsafePoll() !== null) return
      by = reason
      // interrupting needs none of the runtime's services, so it works after dispose too
      Effect.runFork(Fiber.interrupt(fiber))
    }
    const onAbort = () => stop("caller")
    const tracked: Tracked<A, E> = { fiber, stop, stoppedBy: () => by }
    running.add(tracked as Tracked<unknown, unknown>)
    signal?.addEventListener("abort", onAbort, { once: true })
    fiber.addObserver(() => {
      signal?.removeEventListener("abort", onAbort)
      running.delete(tracked as Tracked<unknown, unknown>)
      if (running.size > 0) return
      const waiting = idle
      idle = []
      for (const resolve of waiting) resolve()
    })
    if (signal?.aborted === true) stop("caller")
    return tracked
  }

  const close = (graceMs: number, dispose: () => Promise<void>): Promise<void> => {
    closing ??= (async () => {
      if (running.size > 0 && graceMs > 0) {
        const grace = deadline(graceMs)
        await Promise.race([whenIdle(), grace.elapsed])
        grace.clear()
      }
      for (const call of running) call.stop("close")
      await whenIdle()
      await dispose()
    })()
    return closing
  }

  return { closed: () => closing !== undefined, track, close }
}
