import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as RateLimiter from "../../src/runtime/RateLimiter.js"

const one = { requests: 1, tokens: 0 }

describe("RateLimiter", () => {
  it.effect("rejects the request over the rate with a Retry-After, and admits it once the window has passed", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      for (let i = 0; i < 3; i++) yield* limiter.take("k", { rpm: 3 }, one)
      const error = yield* Effect.flip(limiter.take("k", { rpm: 3 }, one))
      assert.strictEqual(error.reason, "RateLimited")
      assert.strictEqual(error.retryAfterSeconds, 60)
      assert.include(error.message, "3 requests per minute")
      yield* TestClock.adjust("59 seconds")
      const early = yield* Effect.flip(limiter.take("k", { rpm: 3 }, one))
      assert.strictEqual(early.retryAfterSeconds, 1)
      yield* TestClock.adjust("1 second")
      yield* limiter.take("k", { rpm: 3 }, one)
      yield* TestClock.adjust("1 minute")
      for (let i = 0; i < 3; i++) yield* limiter.take("k", { rpm: 3 }, one)
    }))

  it.effect("counts requests over a sliding minute: each admission frees its place exactly 60 s later", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      yield* limiter.take("k", { rpm: 2 }, one) // t = 0
      yield* TestClock.adjust("30 seconds")
      yield* limiter.take("k", { rpm: 2 }, one) // t = 30
      yield* TestClock.adjust("15 seconds")
      assert.strictEqual((yield* Effect.flip(limiter.take("k", { rpm: 2 }, one))).retryAfterSeconds, 15)
      yield* TestClock.adjust("15 seconds")
      yield* limiter.take("k", { rpm: 2 }, one) // t = 60: the first left the window
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(limiter.take("k", { rpm: 2 }, one))).retryAfterSeconds, 29)
    }))

  it.effect("keeps keys apart and lets unlimited keys through", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      yield* limiter.take("a", { rpm: 1 }, one)
      yield* limiter.take("b", { rpm: 1 }, one)
      assert.strictEqual((yield* Effect.flip(limiter.take("a", { rpm: 1 }, one))).reason, "RateLimited")
      for (let i = 0; i < 100; i++) yield* limiter.take("c", {}, { requests: 1, tokens: 1e6 })
      assert.strictEqual(yield* limiter.trackedKeys, 2)
    }))

  it.effect("limits tokens per minute, and charges output tokens committed after the response", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      const limits = { rpm: 100, tpm: 600 }
      yield* limiter.take("k", limits, { requests: 1, tokens: 500 })
      const over = yield* Effect.flip(limiter.take("k", limits, { requests: 1, tokens: 200 }))
      assert.strictEqual(over.retryAfterSeconds, 10) // 100 missing tokens at 10 per second
      assert.include(over.message, "600 tokens per minute")
      yield* limiter.take("k", limits, { requests: 1, tokens: 100 })
      yield* limiter.commitTokens("k", limits.tpm, 300) // bucket at -300
      const owed = yield* Effect.flip(limiter.take("k", limits, { requests: 1, tokens: 1 }))
      assert.strictEqual(owed.retryAfterSeconds, 31) // 301 tokens at 10 per second
      yield* TestClock.adjust("31 seconds")
      yield* limiter.take("k", limits, { requests: 1, tokens: 1 })
    }))

  it.effect("admits a request larger than the bucket only when the bucket is full", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      const limits = { tpm: 60 }
      yield* limiter.take("k", limits, { requests: 1, tokens: 10 })
      const error = yield* Effect.flip(limiter.take("k", limits, { requests: 1, tokens: 1000 }))
      assert.strictEqual(error.retryAfterSeconds, 10)
      yield* TestClock.adjust("10 seconds")
      yield* limiter.take("k", limits, { requests: 1, tokens: 1000 })
      const after = yield* Effect.flip(limiter.take("k", limits, { requests: 1, tokens: 1 }))
      assert.strictEqual(after.retryAfterSeconds, 941)
    }))

  it.effect("a rejected request takes nothing from either bucket", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make()
      const limits = { rpm: 2, tpm: 100 }
      yield* limiter.take("k", limits, { requests: 1, tokens: 100 })
      for (let i = 0; i < 5; i++) yield* Effect.flip(limiter.take("k", limits, { requests: 1, tokens: 50 }))
      yield* TestClock.adjust("30 seconds")
      yield* limiter.take("k", limits, { requests: 1, tokens: 50 })
    }))

  it.effect("evicts idle buckets first, then the least recently used, to stay bounded", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ maxKeys: 10 })
      for (let i = 0; i < 10; i++) yield* limiter.take(`idle-${i}`, { rpm: 60 }, one)
      yield* TestClock.adjust("1 minute") // nothing admitted in the last minute: every key idle
      yield* limiter.take("busy", { rpm: 1 }, one)
      assert.strictEqual(yield* limiter.trackedKeys, 1)
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust("1 millis")
        yield* limiter.take(`k-${i}`, { rpm: 1 }, one)
      }
      assert.isAtMost(yield* limiter.trackedKeys, 10)
      // the most recent keys are still limited; "busy" (oldest) was forgotten
      assert.strictEqual((yield* Effect.flip(limiter.take("k-19", { rpm: 1 }, one))).reason, "RateLimited")
      yield* limiter.take("busy", { rpm: 1 }, one)
    }))
})
