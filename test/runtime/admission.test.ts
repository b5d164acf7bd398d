/** Admission's wait limit: one expiry fiber fails each wait `maxWaitMs` after its request arrived, and never a granted one. */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Option, TestClock } from "effect"
import { make } from "../../src/runtime/Admission.js"

const timedOut = (exit: Exit.Exit<unknown, { readonly reason: string }>) =>
  Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))?.reason === "WaitTimeout"

describe("Admission wait limit", () => {
  it.scoped("fails each queued wait at its own deadline and leaves granted ones alone", () =>
    Effect.gen(function*() {
      const admission = yield* make({ maxSize: 10, agingIntervalMs: 1_000, maxWaitMs: 1_000 })
      let free = 0
      const tryAcquire = () => {
        if (free === 0) return undefined
        free--
        return { value: "slot", release: () => void free++ }
      }
      const wait = (group: string, holdMs = 0) =>
        Effect.flatMap(Clock.currentTimeMillis, (arrivedAt) =>
          admission.withSlot({ priority: 5, arrivedAt, group, tryAcquire }, () => Effect.sleep(holdMs)))
      const first = yield* Effect.fork(wait("a"))
      yield* TestClock.adjust(400)
      const second = yield* Effect.fork(wait("b", 1_000))
      const third = yield* Effect.fork(wait("c"))
      yield* TestClock.adjust(599)
      assert.strictEqual(yield* admission.depth, 3)
      yield* TestClock.adjust(1) // t = 1000: the first wait ends
      const e1 = yield* Fiber.await(first)
      assert.isTrue(timedOut(e1))
      assert.strictEqual(yield* admission.depth, 2)
      free = 1
      yield* admission.notify // t = 1000: the second is granted before its deadline and holds the slot for 1 s
      assert.strictEqual(free, 0)
      assert.strictEqual(yield* admission.depth, 1)
      yield* TestClock.adjust(400) // t = 1400: the third ends, the second still runs
      const e3 = yield* Fiber.await(third)
      assert.isTrue(timedOut(e3))
      assert.strictEqual(yield* admission.depth, 0)
      yield* TestClock.adjust(600) // t = 2000: the second is done and its slot is back
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
      assert.strictEqual(free, 1)
    }))

  it.scoped("an interrupted wait leaves the queue empty and a later wait still times out", () =>
    Effect.gen(function*() {
      const admission = yield* make({ maxSize: 10, agingIntervalMs: 1_000, maxWaitMs: 500 })
      const never = () => undefined
      const wait = Effect.flatMap(Clock.currentTimeMillis, (arrivedAt) =>
        admission.withSlot({ priority: 5, arrivedAt, group: "m", tryAcquire: never }, () => Effect.void))
      const gone = yield* Effect.fork(wait)
      yield* TestClock.adjust(100)
      yield* Fiber.interrupt(gone)
      assert.strictEqual(yield* admission.depth, 0)
      const later = yield* Effect.fork(wait)
      yield* TestClock.adjust(499)
      assert.isTrue(Option.isNone(yield* Fiber.poll(later)))
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.await(later)
      assert.isTrue(timedOut(exit))
    }))

  it.scoped("counts the wait from the request's arrival, so a retry that queues again gets only what is left", () =>
    Effect.gen(function*() {
      const admission = yield* make({ maxSize: 10, agingIntervalMs: 1_000, maxWaitMs: 500 })
      yield* TestClock.adjust(300)
      // arrived at 0, queued again at 300 (after a failed attempt): 200 ms are left
      const retry = yield* Effect.fork(admission.withSlot({ priority: 5, arrivedAt: 0, waitingSince: 0, group: "m", tryAcquire: () => undefined }, () => Effect.void))
      yield* TestClock.adjust(199)
      assert.isTrue(Option.isNone(yield* Fiber.poll(retry)))
      yield* TestClock.adjust(1)
      assert.isTrue(timedOut(yield* Fiber.await(retry)))
      // without `waitingSince` (a batch worker queueing for its next chunk) each wait has its own limit
      const worker = yield* Effect.fork(admission.withSlot({ priority: 5, arrivedAt: 0, group: "m", tryAcquire: () => undefined }, () => Effect.void))
      yield* TestClock.adjust(499)
      assert.isTrue(Option.isNone(yield* Fiber.poll(worker)))
      yield* TestClock.adjust(1)
      assert.isTrue(timedOut(yield* Fiber.await(worker)))
    }))
})
