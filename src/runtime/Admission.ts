/**
 * Admission: a request runs when some candidate node has a free slot; otherwise it waits in a bounded priority
 * queue. Order: highest effective priority first (priority + waited / agingInterval, so nothing starves), FIFO
 * within a level. Binding is late: a waiter's `tryAcquire` scores the cluster as it is when a slot frees.
 */
import { Clock, Context, Deferred, Effect, Exit, FiberId, Layer, Option } from "effect"
import type { Fiber } from "effect"
import { Scope } from "effect"
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
  /** Succeeds with the grant, or fails when the wait passes `maxWaitMs`. */
  readonly deferred: Deferred.Deferred<Grant<unknown>, QueueFull>
  /** When the wait ends with a 503, on Effect's clock. */
  readonly deadline: number
}

interface AdmitRequest<A> {
  readonly priority: number
  readonly arrivedAt: number
  readonly group: string
  readonly tryAcquire: Effect.Effect<Option.Option<Grant<A>>>
}

export interface Admission {
  /**
   * Runs `tryAcquire` now if nobody waits ahead, else queues. The grant is released when the caller's scope
   * closes, on every exit path. `tryAcquire` must not block: it runs inside the admission critical section,
   * possibly on another request's fiber.
   */
  readonly admit: <A>(request: AdmitRequest<A>) => Effect.Effect<A, QueueFull, Scope.Scope>
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

/**
 * Runs `release` when the caller's scope closes. Straight on the Scope rather than `Effect.addFinalizer`, which
 * also diffs and restores the acquiring fiber's FiberRefs: a release needs none of them, and this runs per request.
 */
export const releaseOnClose = (release: Effect.Effect<void>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Scope.Scope, (scope) => Scope.addFinalizer(scope, release))

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

    // One fiber runs while anyone waits and fails the waits that pass `maxWaitMs` (a timeout per waiter would
    // fork and race two fibers for each queued request).
    let expiry: Fiber.RuntimeFiber<void> | undefined

    const remove = (waiter: Waiter) => {
      const i = waiters.indexOf(waiter)
      if (i >= 0) waiters.splice(i, 1)
      if (waiters.length === 0 && expiry !== undefined) {
        expiry.unsafeInterruptAsFork(FiberId.none)
        expiry = undefined
      }
    }

    /** Fails the waits whose deadline passed; call with `mutex` held. One synchronous step, so nothing is lost. */
    const expireDue = (now: number) =>
      Effect.sync(() => {
        for (const w of waiters.filter((w) => w.deadline <= now)) {
          remove(w)
          Deferred.unsafeDone(w.deferred, Exit.fail(new QueueFull({ reason: "WaitTimeout", retryAfterSeconds: 1 })))
        }
      })

    const expiryLoop: Effect.Effect<void> = Effect.suspend(() => {
      let next = Number.POSITIVE_INFINITY
      for (const w of waiters) next = Math.min(next, w.deadline)
      if (next === Number.POSITIVE_INFINITY) return Effect.void
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(
          now >= next ? mutex.withPermits(1)(expireDue(now)) : Effect.sleep(next - now),
          expiryLoop
        ))
    })

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

    const enqueue = (request: AdmitRequest<unknown>, now: number) =>
      Effect.flatMap(Deferred.make<Grant<unknown>, QueueFull>(), (deferred) => {
        if (waiters.length >= config.maxSize) return new QueueFull({ reason: "Full", retryAfterSeconds: 1 })
        const waiter: Waiter = {
          priority: request.priority,
          arrivedAt: request.arrivedAt,
          seq: seq++,
          group: request.group,
          tryAcquire: request.tryAcquire,
          deferred,
          deadline: now + config.maxWaitMs
        }
        waiters.push(waiter)
        const watch = expiry === undefined
          ? Effect.map(Effect.forkDaemon(Effect.interruptible(expiryLoop)), (fiber) => {
            expiry = fiber
          })
          : Effect.void
        return Effect.as(Effect.zipRight(watch, dispatchWaiters(now)), waiter)
      })

    /** With `mutex` held: a grant now if nobody of the group waits ahead and a slot is free, else a queued waiter. */
    const immediateOrQueue = (request: AdmitRequest<unknown>, now: number) =>
      Effect.suspend((): Effect.Effect<Grant<unknown> | Waiter, QueueFull> => {
        if (waiters.some((w) => w.group === request.group)) return enqueue(request, now)
        return Effect.flatMap(request.tryAcquire, (grant): Effect.Effect<Grant<unknown> | Waiter, QueueFull> => {
          if (Option.isNone(grant)) return enqueue(request, now)
          recordWait(request.priority, now - request.arrivedAt)
          return Effect.succeed(grant.value)
        })
      })

    const awaitGrant = (waiter: Waiter, restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const waited = yield* Effect.exit(restore(Deferred.await(waiter.deferred)))
        if (Exit.isSuccess(waited)) {
          yield* releaseOnClose(waited.value.release)
          return waited.value.value
        }
        yield* mutex.withPermits(1)(Effect.sync(() => remove(waiter)))
        // Granted in the same instant as the timeout or interruption: give the slot back.
        const late = yield* Deferred.poll(waiter.deferred)
        if (Option.isSome(late)) {
          const grant = yield* Effect.exit(late.value)
          if (Exit.isSuccess(grant)) yield* grant.value.release
        }
        return yield* Effect.failCause(waited.cause)
      })

    // The uncontended path allocates no Deferred and forks nothing: one look under the mutex, one finalizer.
    const admit: Admission["admit"] = <A>(request: AdmitRequest<A>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.flatMap(mutex.withPermits(1)(immediateOrQueue(request, now)), (got) => {
            if ("deferred" in got) return awaitGrant(got, restore) as Effect.Effect<A, QueueFull, Scope.Scope>
            return Effect.as(releaseOnClose(got.release), got.value as A)
          })
        )
      )

    // Nothing to hand out while nobody waits: a waiter is only ever added under the mutex, and whoever adds one
    // looks at capacity right after, so skipping the mutex here loses no wake-up.
    const notify = Effect.suspend(() =>
      waiters.length === 0
        ? Effect.void
        : Effect.flatMap(Clock.currentTimeMillis, (now) => mutex.withPermits(1)(dispatchWaiters(now)))
    )

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
