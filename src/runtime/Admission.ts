/**
 * Admission: a request runs when some candidate node has a free slot; otherwise it waits in a bounded priority
 * queue. Order: highest effective priority first (priority + waited / agingInterval, so nothing starves), FIFO
 * within a level. Binding is late: a waiter's `tryAcquire` scores the cluster as it is when a slot frees.
 */
import { Clock, Context, Deferred, Effect, Exit, FiberId, Layer, Option, Runtime } from "effect"
import type { Fiber } from "effect"
import { QueueFull } from "../domain/errors.js"

export interface AdmissionConfig {
  /** Most waiting requests; past it, 503. Default 1 000. */
  readonly maxSize: number
  /** Waiting this long raises effective priority by one. Default 5 000 ms. */
  readonly agingIntervalMs: number
  /** Longest a wait lasts (from `waitingSince`: for a request, over all its attempts) before a 503. Default 120 000 ms. */
  readonly maxWaitMs: number
}

/** A reservation: something acquired (a slot) and the function that gives it back. */
export interface Grant<A> {
  readonly value: A
  readonly release: () => void
}

export interface WaitStats {
  readonly priority: number
  readonly waiting: number
  readonly admitted: number
  readonly totalWaitMs: number
  readonly maxWaitMs: number
}

export interface AdmitRequest<A> {
  readonly priority: number
  readonly arrivedAt: number
  /** Group key (the model): a newcomer never overtakes waiters of its own group. */
  readonly group: string
  /**
   * When the wait that `maxWaitMs` limits began: a retried request's arrival, so that queueing again does not start
   * a new wait. Absent: now (each wait its own limit, as a batch worker's per chunk).
   */
  readonly waitingSince?: number
  /**
   * One synchronous look at the cluster: a grant, or undefined to wait. Synchronous on purpose: looking at
   * capacity and taking it is then one indivisible step, with no lock (it may run on another request's fiber).
   */
  readonly tryAcquire: () => Grant<A> | undefined
}

interface Waiter extends AdmitRequest<unknown> {
  readonly seq: number
  /** Succeeds with the grant, or fails when the wait passes `maxWaitMs`. */
  readonly deferred: Deferred.Deferred<Grant<unknown>, QueueFull>
  /** When the wait ends with a 503, on Effect's clock. */
  readonly deadline: number
}

export interface Admission {
  /**
   * Runs `use` with a slot: taken now if nobody of the group waits ahead and one is free, else after waiting
   * in the queue (interruptible). The grant is released on every exit of `use`, and waiters get the slot.
   */
  readonly withSlot: <A, B, E, R>(
    request: AdmitRequest<A>,
    use: (value: A) => Effect.Effect<B, E, R>
  ) => Effect.Effect<B, E | QueueFull, R>
  /** Runs `use` holding a grant `acquire` takes now, without queueing (a hedge); released as in `withSlot`. */
  readonly withGrant: <A, B, E, R>(acquire: () => Grant<A>, use: (value: A) => Effect.Effect<B, E, R>) => Effect.Effect<B, E, R>
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

/** `Effect.uninterruptibleMask`'s restore: runs an effect with the caller's interruptibility. */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export const make = (config: AdmissionConfig): Effect.Effect<Admission> =>
  Effect.map(Effect.zip(Effect.clock, Effect.runtime<never>()), ([clock, runtime]) => {
    const fork = Runtime.runFork(runtime)
    // Plain mutable state changed only in synchronous steps, so no lock: JavaScript runs one step at a time.
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

    const expireDue = (now: number) => {
      for (const w of waiters.filter((w) => w.deadline <= now)) {
        remove(w)
        Deferred.unsafeDone(w.deferred, Exit.fail(new QueueFull({ reason: "WaitTimeout", retryAfterSeconds: 1 })))
      }
    }

    const expiryLoop: Effect.Effect<void> = Effect.suspend(() => {
      let next = Number.POSITIVE_INFINITY
      for (const w of waiters) next = Math.min(next, w.deadline)
      if (next === Number.POSITIVE_INFINITY) return Effect.void
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(now >= next ? Effect.sync(() => expireDue(now)) : Effect.sleep(next - now), expiryLoop))
    })

    /** Gives a grant back and hands the freed slot to waiters. */
    const release = (grant: Grant<unknown>) => {
      grant.release()
      wake()
    }

    /** Hands capacity to waiters in order. */
    const wake = () => {
      if (waiters.length === 0) return
      const now = clock.unsafeCurrentTimeMillis()
      waiters.sort(compareWaiters(now, config.agingIntervalMs))
      // Each waiter scores the cluster itself (a fast node may be worth waiting for), so every waiter gets a
      // look, in order; bounded so that one notify stays cheap under a deep queue.
      for (const waiter of waiters.slice(0, MAX_LOOKS_PER_NOTIFY)) {
        const grant = waiter.tryAcquire()
        if (grant === undefined) continue
        remove(waiter)
        recordWait(waiter.priority, now - waiter.arrivedAt)
        Deferred.unsafeDone(waiter.deferred, Exit.succeed(grant))
      }
    }

    const enqueue = (request: AdmitRequest<unknown>, now: number): Waiter | QueueFull => {
      if (waiters.length >= config.maxSize) return new QueueFull({ reason: "Full", retryAfterSeconds: 1 })
      const waiter: Waiter = {
        ...request,
        seq: seq++,
        deferred: Deferred.unsafeMake(FiberId.none),
        deadline: Math.min(now, request.waitingSince ?? now) + config.maxWaitMs
      }
      waiters.push(waiter)
      if (expiry === undefined) expiry = fork(Effect.interruptible(expiryLoop))
      wake()
      return waiter
    }

    /** A grant now if nobody of the group waits ahead and a slot is free, else a queued waiter (or a full queue). */
    const immediateOrQueue = (request: AdmitRequest<unknown>): Grant<unknown> | Waiter | QueueFull => {
      const now = clock.unsafeCurrentTimeMillis()
      if (waiters.some((w) => w.group === request.group)) return enqueue(request, now)
      const grant = request.tryAcquire()
      if (grant === undefined) return enqueue(request, now)
      recordWait(request.priority, now - request.arrivedAt)
      return grant
    }

    /** Waits (interruptibly) for the waiter's grant; on timeout or interruption leaves the queue, giving back a late grant. */
    const awaitGrant = (waiter: Waiter, restore: Restore) =>
      Effect.onInterrupt(restore(Deferred.await(waiter.deferred)), () =>
        Effect.flatMap(Effect.sync(() => remove(waiter)), () =>
          Effect.flatMap(Deferred.poll(waiter.deferred), (late) =>
            // Granted in the same instant as the interruption: give the slot back, to the next waiter.
            Option.isSome(late) ? Effect.ignore(Effect.map(late.value, (grant) => release(grant))) : Effect.void)))

    /** Runs `use` (interruptibly) holding `grant`; on every exit gives it back. */
    const holding = <A, B, E, R>(grant: Grant<A>, restore: Restore, use: (value: A) => Effect.Effect<B, E, R>) =>
      Effect.onExit(restore(use(grant.value)), () => Effect.sync(() => release(grant)))

    const withSlot = <A, B, E, R>(request: AdmitRequest<A>, use: (value: A) => Effect.Effect<B, E, R>) =>
      Effect.uninterruptibleMask((restore): Effect.Effect<B, E | QueueFull, R> => {
        const got = immediateOrQueue(request)
        if (got instanceof QueueFull) return Effect.fail(got)
        if ("deferred" in got) {
          return Effect.flatMap(awaitGrant(got, restore), (grant) => holding(grant as Grant<A>, restore, use))
        }
        return holding(got as Grant<A>, restore, use)
      })

    const withGrant: Admission["withGrant"] = (acquire, use) =>
      Effect.uninterruptibleMask((restore) => holding(acquire(), restore, use))

    return {
      withSlot,
      withGrant,
      notify: Effect.sync(wake),
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
