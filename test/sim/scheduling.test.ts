import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeSimNode } from "../../src/sim/SimNode.js"
import { testProfile } from "./fixtures.js"
import { call, json } from "./helpers.js"

const gen = (model: string, numPredict: number, extra: Record<string, unknown> = {}) => ({
  model,
  prompt: "abcd",
  stream: false,
  options: { num_predict: numPredict },
  ...extra
})

describe("sim node scheduling (TestClock)", () => {
  it.scoped("a request beyond the slots waits for one to free", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const fibers = yield* Effect.forEach([0, 1, 2], () => Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 10))))
      yield* TestClock.adjust("50 millis")
      const mid = yield* node.stats
      assert.strictEqual(mid.running, 2)
      assert.strictEqual(mid.waiting, 1)
      yield* TestClock.adjust("1 second")
      const [a, b, c] = yield* Effect.forEach(fibers, (f) => Effect.map(Fiber.join(f), json))
      // The third starts only when a slot frees: its wait (total minus its own work) covers the shorter decode of the two.
      const wait = (c!["total_duration"] as number) - (c!["prompt_eval_duration"] as number) - (c!["eval_duration"] as number)
      assert.isAtLeast(wait, Math.min(a!["eval_duration"] as number, b!["eval_duration"] as number))
      assert.strictEqual((yield* node.stats).maxRunning, 2)
    }))

  it.scoped("past the queue bound the node answers Ollama's 503", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const held = yield* Effect.forEach([0, 1, 2, 3], () => Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 10))))
      yield* TestClock.adjust("1 millis")
      const rejected = yield* call(node, "POST", "/api/generate", gen("tiny", 10))
      assert.strictEqual(rejected.status, 503)
      assert.strictEqual(rejected.body, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`)
      yield* TestClock.adjust("1 second")
      for (const f of held) assert.strictEqual((yield* Fiber.join(f)).status, 200)
      assert.strictEqual((yield* node.stats).rejected, 1)
    }))

  it.scoped("two tags of one model file share its runner: the second is warm", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const other = yield* Effect.fork(call(node, "POST", "/api/generate", gen("tiny:1b", 1)))
      yield* TestClock.adjust("1 second")
      assert.isBelow(json(yield* Fiber.join(other))["load_duration"] as number, 1e6)
      assert.deepStrictEqual(yield* node.loaded, ["tiny:latest"])
      assert.strictEqual((yield* node.stats).loads, 0)
    }))

  it.scoped("a model is evicted, least recently used first, to load another under the memory budget", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const first = yield* Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 1)))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(first)
      assert.deepStrictEqual(yield* node.loaded, ["tiny:latest"])
      const second = yield* Effect.fork(call(node, "POST", "/api/generate", gen("other", 1)))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(json(yield* Fiber.join(second))["load_duration"], 1e9)
      assert.deepStrictEqual(yield* node.loaded, ["other:latest"])
      const s = yield* node.stats
      assert.strictEqual(s.evictions, 1)
      assert.strictEqual(s.loads, 2)
    }))

  it.scoped("a model that does not fit waits for the busy one to finish", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const busy = yield* Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 100)))
      const other = yield* Effect.fork(call(node, "POST", "/api/generate", gen("other", 1)))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(busy)
      // tiny decodes for ~1 s, then other loads for 1 s: its load_duration holds both.
      assert.isAtLeast(json(yield* Fiber.join(other))["load_duration"] as number, 2e9)
    }))

  it.scoped("keep_alive 0 unloads after the request, and a duration unloads when it runs out", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const a = yield* Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 1, { keep_alive: 0 })))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(a)
      assert.deepStrictEqual(yield* node.loaded, [])
      const b = yield* Effect.fork(call(node, "POST", "/api/generate", gen("tiny", 1, { keep_alive: "1m" })))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(b)
      assert.deepStrictEqual(yield* node.loaded, ["tiny:latest"])
      yield* TestClock.adjust("58 seconds")
      assert.deepStrictEqual(yield* node.loaded, ["tiny:latest"])
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* node.loaded, [])
      const bad = yield* call(node, "POST", "/api/generate", gen("tiny", 1, { keep_alive: "5" }))
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(json(bad)["error"], `time: missing unit in duration "5"`)
    }))

  it.scoped("an empty prompt loads the model and keep_alive 0 with it unloads", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const load = yield* Effect.fork(call(node, "POST", "/api/generate", { model: "tiny" }))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(json(yield* Fiber.join(load))["done_reason"], "load")
      assert.deepStrictEqual(yield* node.loaded, ["tiny:latest"])
      const unload = yield* call(node, "POST", "/api/chat", { model: "tiny", messages: [], keep_alive: 0 })
      assert.strictEqual(json(unload)["done_reason"], "unload")
      assert.deepStrictEqual(yield* node.loaded, [])
    }))

  it.scoped("embedding models serve one request at a time", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["emb"] })
      // 10 tokens at 100 tok/s: 100 ms each, one after the other.
      const fibers = yield* Effect.forEach([0, 1], () => Effect.fork(call(node, "POST", "/api/embed", { model: "emb", input: "x".repeat(40) })))
      yield* TestClock.adjust("1 second")
      const totals = yield* Effect.forEach(fibers, (f) => Effect.map(Fiber.join(f), (c) => json(c)["total_duration"]))
      assert.deepStrictEqual(totals, [1e8, 2e8])
    }))
})
