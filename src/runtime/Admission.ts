/**
 * Admission: a request runs when some candidate node has a free slot; otherwise it waits in a bounded priority
 * queue. Order: highest effective priority first (priority + waited / agingInterval, so nothing starves), FIFO
 * within a level. Binding is late: a waiter's `tryAcquire` scores the cluster as it is when a slot frees.
 */
import { Clock, Context, Deferred, Effect, Exit, Layer, Option } from "effect"
import type { Scope } from "effect"
import { QueueFull } from "../domain/errors.js"

export interface AdmissionConfig {
  /** Most waiting requests; past it, 503. Default 1 000. */
  readonly maxSize: number
  /** Waiting this long raises effective priority by one. Default 5 000 ms. */
  readonly agingIntervalMs: number
  /** Longest wait before a 503. Default 120 000 ms. */
  readonly maxWaitMs: number
}

/** A reservation: something acquired (a slot) and the effect that gives it back. */
export interface Grant<A> {
  readonly value: A
  readonly release: Effect.Effect<void>
}

export interface WaitStats {
  readonly priority: number
  readonly waiting: number
  readonly admitted: number
  readonly totalWaitMs: number
  readonly maxWaitMs: number
}

interface Waiter {
  readonly priority: number
  readonly arrivedAt: number
  readonly seq: number
  /** Group key (the model): a newcomer never overtakes waiters of its own group on the fast path. */
  readonly group: string
  readonly tryAcquire: Effect.Effect<Option.Option<Grant<unknown>>>
  readonly deferred: Deferred.Deferred<Grant<unknown>>
}

export interface Admission {
  /**
   * Runs `tryAcquire` now if nobody waits ahead, else queues. The grant is released when the caller's scope
   * closes, on every exit path. `tryAcquire` must not block: it runs inside the admission critical section,
   * possibly on another request's fiber.
   */
  readonly admit: <A>(request: {
    readonly priority: number
    readonly arrivedAt: number
    readonly group: string
    readonly tryAcquire: Effect.Effect<Option.Option<Grant<A>>>
  }) => Effect.Effect<A, QueueFull, Scope.Scope>
  /** Something changed (a slot freed, a node joined): hand free capacity to waiters in order. */
  readonly notify: Effect.Effect<void>
  readonly depth: Effect.Effect<number>
  readonly stats: Effect.Effect<ReadonlyArray<WaitStats>>
}

export class AdmissionTag extends Context.Tag("sollol/Admission")<AdmissionTag, Admission>() {}

/** Orders waiters: higher effective priority first, then earlier arrival. Exported for the property tests. */
export const compareWaiters = (now: number, agingIntervalMs: number) =>
(a: { priority: number; arrivedAt: number; seq: number }, b: { priority: number; arrivedAt: number; seq: number }) => {
  const ea = a.priority + (now - a.arrivedAt) / agingIntervalMs
  const eb = b.priority + (now - b.arrivedAt) / agingIntervalMs
  return ea !== eb ? eb - ea : a.arrivedAt !== b.arrivedAt ? a.arrivedAt - b.arrivedAt : a.seq - b.seq
}

const MAX_LOOKS_PER_NOTIFY = 64

export const make = (config: AdmissionConfig): Effect.Effect<Admission> =>
  Effect.map(Effect.makeSemaphore(1), (mutex) => {
    // Plain mutable state, touched only while holding `mutex`: looking at capacity and taking it is one step.
    const waiters: Array<Waiter> = []
    let seq = 0
    const byPriority = new Map<number, { admitted: number; totalWaitMs: number; maxWaitMs: number }>()

    const recordWait = (priority: number, waitedMs: number) => {
      const s = byPriority.get(priority) ?? { admitted: 0, totalWaitMs: 0, maxWaitMs: 0 }
      s.admitted += 1
      s.totalWaitMs += waitedMs
      s.maxWaitMs = Math.max(s.maxWaitMs, waitedMs)
      byPriority.set(priority, s)
    }

    const remove = (waiter: Waiter) => {
      const i = waiters.indexOf(waiter)
      if (i >= 0) waiters.splice(i, 1)
    }

    /** Hands capacity to waiters in order; call with `mutex` held. */
    const dispatchWaiters = (now: number) =>
      Effect.gen(function*() {
        if (waiters.length === 0) return
        waiters.sort(compareWaiters(now, config.agingIntervalMs))
        // Each waiter scores the cluster itself (a fast node may be worth waiting for), so every waiter gets a
        // look, in order; bounded so that one notify stays cheap under a deep queue.
        for (const waiter of waiters.slice(0, MAX_LOOKS_PER_NOTIFY)) {
          const grant = yield* waiter.tryAcquire
          if (Option.isNone(grant)) continue
          remove(waiter)
          recordWait(waiter.priority, now - waiter.arrivedAt)
          yield* Deferred.succeed(waiter.deferred, grant.value)
        }
      })

    const admit: Admission["admit"] = <A>(request: {
      readonly priority: number
      readonly arrivedAt: number
      readonly group: string
      readonly tryAcquire: Effect.Effect<Option.Option<Grant<A>>>
    }) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const deferred = yield* Deferred.make<Grant<unknown>>()
          const waiter: Waiter = { ...request, seq: seq++, deferred }
          const immediate = yield* mutex.withPermits(1)(Effect.gen(function*() {
            if (!waiters.some((w) => w.group === request.group)) {
              const grant = yield* request.tryAcquire
              if (Option.isSome(grant)) {
                recordWait(request.priority, now - request.arrivedAt)
                return grant
              }
            }
            if (waiters.length >= config.maxSize) {
              return yield* new QueueFull({ reason: "Full", retryAfterSeconds: 1 })
            }
            waiters.push(waiter)
            yield* dispatchWaiters(now)
            return Option.none()
          }))
          if (Option.isSome(immediate)) {
            const grant = immediate.value
            yield* Effect.addFinalizer(() => grant.release)
            return grant.value
          }
          const waited = yield* restore(Deferred.await(deferred)).pipe(
            Effect.timeoutFail({
              duration: config.maxWaitMs,
              onTimeout: () => new QueueFull({ reason: "WaitTimeout", retryAfterSeconds: 1 })
            }),
            Effect.exit
          )
          if (Exit.isSuccess(waited)) {
            yield* Effect.addFinalizer(() => waited.value.release)
            return waited.value.value as A
          }
          yield* mutex.withPermits(1)(Effect.sync(() => remove(waiter)))
          // Granted in the same instant as the timeout or interruption: give the slot back.
          const late = yield* Deferred.poll(deferred)
          if (Option.isSome(late)) {
            const grant = yield* late.value
            yield* grant.release
          }
          return yield* Effect.failCause(waited.cause)
        })
      )

    const notify = Effect.flatMap(Clock.currentTimeMillis, (now) => mutex.withPermits(1)(dispatchWaiters(now)))

    return {
      admit,
      notify,
      depth: Effect.sync(() => waiters.length),
      stats: Effect.sync(() => {
        const priorities = new Set([...byPriority.keys(), ...waiters.map((w) => w.priority)])
        return [...priorities].sort((a, b) => b - a).map((priority) => {
          const s = byPriority.get(priority) ?? { admitted: 0, totalWaitMs: 0, maxWaitMs: 0 }
          return { priority, waiting: waiters.filter((w) => w.priority === priority).length, ...s }
        })
      })
    }
  })

export const layer = (config: AdmissionConfig) => Layer.effect(AdmissionTag, make(config))
