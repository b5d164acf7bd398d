/**
 * A discrete-event runner for Effect programs: a virtual Clock plus a Scheduler whose task queue we drain ourselves.
 * When no fiber can run, the clock jumps to the earliest timer. Deterministic, and fast enough for millions of
 * sleeps (TestClock polls for quiescence with real timers at every step, which is too slow for a token-level sim).
 */
import { Clock, Duration, Effect, FiberRef, Runtime, Scheduler } from "effect"
import type { Exit } from "effect"

interface Timer {
  readonly at: number
  readonly seq: number
  cancelled: boolean
  readonly wake: () => void
}

/** Binary min-heap on (at, seq): equal times fire in the order they were set. */
const makeHeap = () => {
  const items: Array<Timer> = []
  const less = (a: Timer, b: Timer) => a.at < b.at || (a.at === b.at && a.seq < b.seq)
  const push = (t: Timer) => {
    items.push(t)
    let i = items.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(items[i]!, items[p]!)) break
      ;[items[i], items[p]] = [items[p]!, items[i]!]
      i = p
    }
  }
  const pop = (): Timer | undefined => {
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    for (let i = 0;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < items.length && less(items[l]!, items[m]!)) m = l
      if (r < items.length && less(items[r]!, items[m]!)) m = r
      if (m === i) break
      ;[items[i], items[m]] = [items[m]!, items[i]!]
      i = m
    }
    return top
  }
  return { push, pop, peek: (): Timer | undefined => items[0] }
}

export interface VirtualRun<A, E> {
  readonly exit: Exit.Exit<A, E>
  /** Virtual ms when the program ended. */
  readonly endedAtMs: number
  /** Timers fired (a measure of the work simulated). */
  readonly timersFired: number
}

/**
 * Runs `effect` to the end in virtual time starting at `startMs`:
 * 1. run every queued fiber task (FIFO) until none is left;
 * 2. if the program ended, stop; else move the clock to the earliest live timer and wake its fiber;
 * 3. a program that waits with no timer left is deadlocked: it is interrupted, and the exit says so.
 */
export const runVirtual = <A, E>(effect: Effect.Effect<A, E>, startMs = 0): VirtualRun<A, E> => {
  let now = startMs
  let seq = 0
  let fired = 0
  const timers = makeHeap()
  let tasks: Array<() => void> = []
  let head = 0
  const scheduler = Scheduler.make((task) => {
    tasks.push(task)
  }, Scheduler.defaultShouldYield)
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1e6)),
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1e6))),
    sleep: (duration: Duration.Duration) =>
      Effect.async<void>((resume) => {
        const ms = Duration.toMillis(duration)
        if (!(ms > 0)) return resume(Effect.void)
        const timer: Timer = { at: now + ms, seq: seq++, cancelled: false, wake: () => resume(Effect.void) }
        timers.push(timer)
        return Effect.sync(() => {
          timer.cancelled = true
        })
      })
  }
  const runtime = Runtime.defaultRuntime.pipe(Runtime.setFiberRef(FiberRef.currentScheduler, scheduler))
  const fiber = Runtime.runFork(runtime)(Effect.withClock(effect, clock))
  const drain = () => {
    while (head < tasks.length) tasks[head++]!()
    tasks = []
    head = 0
  }
  for (;;) {
    drain()
    const done = fiber.unsafePoll()
    if (done !== null) return { exit: done, endedAtMs: now, timersFired: fired }
    let next = timers.pop()
    while (next !== undefined && next.cancelled) next = timers.pop()
    if (next === undefined) {
      fiber.unsafeInterruptAsFork(fiber.id())
      drain()
      const stuck = fiber.unsafePoll()
      if (stuck !== null) return { exit: stuck, endedAtMs: now, timersFired: fired }
      throw new Error("virtual time: the program is blocked with no timer left and did not stop on interrupt")
    }
    now = Math.max(now, next.at)
    fired++
    next.wake()
    // every timer due at this same instant wakes before the queue drains, as their order is already fixed
    for (let more = timers.peek(); more !== undefined && more.at <= now; more = timers.peek()) {
      timers.pop()
      if (more.cancelled) continue
      fired++
      more.wake()
    }
  }
}
