import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeSimNode } from "../../src/sim/SimNode.js"
import { testProfile, promptOf } from "./fixtures.js"
import { call, json } from "./helpers.js"

const gen = (prompt: string, numPredict: number, extra: Record<string, unknown> = {}) => ({
  model: "tiny",
  prompt,
  stream: false,
  options: { num_predict: numPredict },
  ...extra
})

describe("sim node timing (TestClock)", () => {
  it.scoped("a cold request takes load + prefill + decode, reported in simulated nanoseconds", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const fiber = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(1000), 50)))
      yield* TestClock.adjust("3499 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const body = json(yield* Fiber.join(fiber))
      assert.strictEqual(body["load_duration"], 2e9)
      assert.strictEqual(body["prompt_eval_duration"], 1e9)
      assert.strictEqual(body["eval_duration"], 5e8)
      assert.strictEqual(body["total_duration"], 3.5e9)
      assert.strictEqual(body["eval_count"], 50)
      assert.strictEqual(body["prompt_eval_count"], 1000)
      assert.strictEqual(body["done_reason"], "length")
    }))

  it.scoped("the time scale divides waits while reported durations stay simulated", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, timeScale: 10 })
      const fiber = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(1000), 50)))
      yield* TestClock.adjust("350 millis")
      const body = json(yield* Fiber.join(fiber))
      assert.strictEqual(body["total_duration"], 3.5e9)
    }))

  it.scoped("a loaded model pays its load once, then not", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const first = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(100), 10)))
      yield* TestClock.adjust("2200 millis")
      assert.strictEqual(json(yield* Fiber.join(first))["load_duration"], 2e9)
      const second = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(100, "wxyz"), 10)))
      yield* TestClock.adjust("200 millis")
      const body = json(yield* Fiber.join(second))
      assert.strictEqual(body["load_duration"], 0)
      assert.strictEqual(body["total_duration"], 2e8)
      assert.strictEqual((yield* node.stats).loads, 1)
    }))

  it.scoped("a request that arrives during a load has the rest of the load in its load_duration", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const first = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(100), 10)))
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.fork(call(node, "POST", "/api/generate", gen(promptOf(100, "wxyz"), 10)))
      yield* TestClock.adjust("2000 millis")
      assert.strictEqual(json(yield* Fiber.join(first))["load_duration"], 2e9)
      const body = json(yield* Fiber.join(second))
      assert.strictEqual(body["load_duration"], 1.5e9)
      // all its time is accounted for: the load it waited for, its prefill, its decode (beside the first request's)
      const parts = ["load_duration", "prompt_eval_duration", "eval_duration"].map((k) => body[k] as number)
      assert.strictEqual(body["total_duration"], parts[0]! + parts[1]! + parts[2]!)
      assert.strictEqual((yield* node.stats).loads, 1)
    }))

  it.scoped("a repeated prompt prefix skips that part of prefill", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const shared = promptOf(800)
      const a = yield* Effect.fork(call(node, "POST", "/api/generate", gen(shared + promptOf(200, "wxyz"), 1)))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(json(yield* Fiber.join(a))["prompt_eval_duration"], 1e9)
      const b = yield* Effect.fork(call(node, "POST", "/api/generate", gen(shared + promptOf(200, "qrst"), 1)))
      yield* TestClock.adjust("2 seconds")
      const body = json(yield* Fiber.join(b))
      // 800 of 1000 tokens were cached: only 200 are evaluated, the count stays the full prompt (llama-server's cache_n + prompt_n).
      assert.strictEqual(body["prompt_eval_duration"], 2e8)
      assert.strictEqual(body["prompt_eval_count"], 1000)
    }))

  it.scoped("n concurrent decoders each slow to n^-0.25 of one stream's rate", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const fibers = yield* Effect.forEach([1, 2], () => Effect.fork(call(node, "POST", "/api/generate", gen("abcd", 100))), { concurrency: "unbounded" })
      yield* TestClock.adjust("10 seconds")
      for (const f of fibers) {
        const body = json(yield* Fiber.join(f))
        assert.closeTo(body["eval_duration"] as number, 1e9 * Math.pow(2, 0.25), 2e7)
      }
    }))
})
