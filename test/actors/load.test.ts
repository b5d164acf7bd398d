import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, TestClock } from "effect"
import { makeLoad } from "../../src/actors/load.js"

const close = (actual: number, expected: number) =>
  assert.isTrue(Math.abs(actual - expected) < 1e-6, `${actual} ≠ ${expected}`)

describe("load", () => {
  it.effect("in-flight returns to 0 after a success, and the elapsed time is recorded", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad()
      const fiber = yield* load.track(Effect.sleep("200 millis").pipe(Effect.as("done"))).pipe(Effect.fork)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* load.inFlight, 1)
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.strictEqual(yield* load.inFlight, 0)
      close(yield* load.ewmaMs, 200)
    }))

  it.effect("in-flight returns to 0 after a failure, which records no latency", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad()
      const exit = yield* load.track(Effect.fail("nope")).pipe(Effect.exit)
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(yield* load.inFlight, 0)
      assert.strictEqual(yield* load.ewmaMs, 0)
    }))

  it.effect("in-flight returns to 0 after interruption", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad()
      const started = yield* Deferred.make<void>()
      const fiber = yield* load.track(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)).pipe(
        Effect.fork
      )
      yield* Deferred.await(started)
      assert.strictEqual(yield* load.inFlight, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* load.inFlight, 0)
    }))

  it.effect("counts concurrent requests and awaitIdle waits for the last one", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad()
      const fibers = yield* Effect.forEach([100, 300], (ms) => Effect.fork(load.track(Effect.sleep(ms))))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* load.inFlight, 2)
      const idle = yield* Effect.fork(load.awaitIdle)
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* load.inFlight, 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(idle)))
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(idle)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(yield* load.inFlight, 0)
    }))

  it.effect("a sample above the estimate replaces it at once (peak-sensitive)", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad({ initialMs: 50 })
      yield* load.observe(500)
      assert.strictEqual(yield* load.ewmaMs, 500)
    }))

  it.effect("lower samples pull the estimate down by exp(-elapsed / decay)", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad({ decayMs: 10_000 })
      yield* load.observe(100)
      yield* load.observe(10)
      close(yield* load.ewmaMs, 100) // no time elapsed: the new sample has no weight yet
      yield* TestClock.adjust("10 seconds")
      yield* load.observe(10)
      // the read above decayed nothing (0 ms); 10 s later: 100·e⁻¹ + 10·(1 − e⁻¹)
      close(yield* load.ewmaMs, 100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))
    }))

  it.effect("an idle estimate decays toward 0 with the configured decay time", () =>
    Effect.gen(function*() {
      const load = yield* makeLoad({ decayMs: 2_000 })
      yield* load.observe(100)
      yield* TestClock.adjust("2 seconds")
      close(yield* load.ewmaMs, 100 * Math.exp(-1))
      yield* TestClock.adjust("2 seconds")
      close(yield* load.ewmaMs, 100 * Math.exp(-2))
    }))
})
