import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import { makeSimNode } from "../../src/sim/SimNode.js"
import { testProfile } from "./fixtures.js"
import { call, json, lines } from "./helpers.js"

const gen = (numPredict: number, stream = false) => ({ model: "tiny", prompt: "abcd", stream, options: { num_predict: numPredict } })
const warm = makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })

describe("sim node faults", () => {
  it.scoped("refuse fails with a transport error without answering", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "refuse" })
      let accepted = false
      const exit = yield* Effect.exit(node.handle({ method: "GET", path: "/api/version", headers: {}, body: undefined }, () => {
        accepted = true
        return { write: () => {} }
      }))
      assert.isFalse(accepted)
      assert.isTrue(Exit.isFailure(exit))
      const err = yield* Effect.flip(call(node, "GET", "/api/tags"))
      assert.strictEqual(err.reason, "Transport")
      assert.strictEqual(err.nodeId, "n")
      // The control routes stay reachable so a test can lift the fault.
      assert.strictEqual((yield* call(node, "POST", "/__sim/fault", { mode: "none" })).status, 200)
      assert.strictEqual((yield* call(node, "GET", "/api/version")).status, 200)
    }))

  it.scoped("error500 answers inference with 500 while probes still work", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, fault: { mode: "error500" } })
      const r = yield* call(node, "POST", "/api/generate", gen(1))
      assert.strictEqual(r.status, 500)
      assert.isString(json(r)["error"])
      const o = yield* call(node, "POST", "/v1/chat/completions", { model: "tiny", messages: [{ role: "user", content: "x" }] })
      assert.strictEqual((json(o)["error"] as Record<string, unknown>)["type"], "api_error")
      assert.strictEqual((yield* call(node, "GET", "/api/version")).status, 200)
    }))

  it.scoped("hang never answers and can be interrupted", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "hang" })
      const f = yield* Effect.fork(call(node, "POST", "/api/generate", gen(1)))
      yield* TestClock.adjust("1 hour")
      assert.isNull(f.unsafePoll())
      yield* Fiber.interrupt(f)
      yield* node.setFault({ mode: "none" })
      const ok = yield* Effect.fork(call(node, "POST", "/api/generate", gen(1)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(ok)).status, 200)
    }))

  it.scoped("slow multiplies every simulated duration", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "slow", factor: 3 })
      const f = yield* Effect.fork(call(node, "POST", "/api/generate", gen(10)))
      yield* TestClock.adjust("1 second")
      const body = json(yield* Fiber.join(f))
      assert.strictEqual(body["eval_duration"], 3e8)
      assert.strictEqual(body["prompt_eval_duration"], 3e6)
    }))

  it.scoped("truncate resets the connection after k chunks", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "truncate", afterChunks: 3 })
      const chunks: Array<Uint8Array> = []
      const f = yield* Effect.fork(Effect.exit(node.handle(
        { method: "POST", path: "/api/chat", headers: {}, body: new TextEncoder().encode(JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }], options: { num_predict: 10 } })) },
        () => ({ write: (c) => void chunks.push(c) })
      )))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(f)
      assert.strictEqual(chunks.length, 3)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "connection reset")
      // A short enough body is untouched.
      const short = yield* Effect.fork(call(node, "POST", "/api/generate", gen(1)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(short)).status, 200)
    }))

  it.scoped("crash reports a dead runner as Ollama does: in the stream once it began, else as a 500", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "crash", afterChunks: 3 })
      // each crash drops the runner, so each request after it loads the model again (2 s)
      const run = (path: string, body: unknown) =>
        Effect.gen(function*() {
          const f = yield* Effect.fork(call(node, "POST", path, body))
          yield* TestClock.adjust("3 seconds")
          return yield* Fiber.join(f)
        })
      const native = yield* run("/api/generate", gen(10, true))
      assert.strictEqual(native.status, 200)
      const nativeLines = lines(native)
      assert.strictEqual(nativeLines.length, 4)
      assert.deepStrictEqual(nativeLines[3], { error: "llama runner process has terminated: exit status 2" })
      // the dead runner is gone from /api/ps, and the next request loads the model again
      assert.deepStrictEqual(json(yield* call(node, "GET", "/api/ps"))["models"], [])
      const loads = (yield* node.stats).loads
      // the OpenAI middleware turns that line into an empty delta and ends without a finish chunk or [DONE]
      const openai = yield* run("/v1/chat/completions", { model: "tiny", messages: [{ role: "user", content: "x" }], stream: true, max_tokens: 10 })
      const events = openai.body.split("\n\n").filter((e) => e !== "")
      assert.strictEqual(events.length, 4)
      assert.notInclude(openai.body, "[DONE]")
      const last = JSON.parse(events[3]!.slice("data: ".length)) as { choices: Array<Record<string, unknown>> }
      assert.deepStrictEqual(last.choices[0], { index: 0, delta: { role: "", content: "" }, finish_reason: null })
      // not streamed, or dead before the first token: a 500 with the error, nothing else
      const whole = yield* run("/api/generate", gen(10))
      assert.strictEqual(whole.status, 500)
      assert.deepStrictEqual(json(whole), { error: "llama runner process has terminated: exit status 2" })
      yield* node.setFault({ mode: "crash", afterChunks: 0 })
      const early = yield* run("/api/chat", { model: "tiny", messages: [{ role: "user", content: "x" }], options: { num_predict: 5 } })
      assert.strictEqual(early.status, 500)
      // a generation shorter than the crash point finishes
      yield* node.setFault({ mode: "crash", afterChunks: 20 })
      const finished = yield* run("/api/generate", gen(10))
      assert.strictEqual(finished.status, 200)
      assert.isAbove(json(finished)["load_duration"] as number, 0)
      assert.isAbove((yield* node.stats).loads, loads)
    }))

  it.scoped("flap alternates up and down every period of simulated time", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, timeScale: 2, fault: { mode: "flap", periodMs: 1000 } })
      const up = (ms: number) => Effect.zipRight(TestClock.adjust(`${ms} millis`), Effect.map(Effect.exit(call(node, "GET", "/api/version")), Exit.isSuccess))
      assert.isTrue(yield* up(0))
      assert.isFalse(yield* up(500)) // 1000 simulated ms at time scale 2
      assert.isFalse(yield* up(499))
      assert.isTrue(yield* up(1))
      assert.isFalse(yield* up(500))
      assert.isTrue((yield* node.stats).faulted >= 3)
    }))

  it.scoped("busy answers Ollama's 503 on inference", () =>
    Effect.gen(function*() {
      const node = yield* warm
      yield* node.setFault({ mode: "busy" })
      const r = yield* call(node, "POST", "/api/chat", { model: "tiny", messages: [{ role: "user", content: "x" }] })
      assert.strictEqual(r.status, 503)
      assert.strictEqual(json(r)["error"], "server busy, please try again.  maximum pending requests exceeded")
    }))

  it.scoped("a fault set through POST /__sim/fault is reported by GET /__sim/stats", () =>
    Effect.gen(function*() {
      const node = yield* warm
      const bad = yield* call(node, "POST", "/__sim/fault", { mode: "explode" })
      assert.strictEqual(bad.status, 400)
      yield* call(node, "POST", "/__sim/fault", { mode: "slow", factor: 2 })
      assert.deepStrictEqual(yield* node.fault, { mode: "slow", factor: 2 })
      const f = yield* Effect.fork(call(node, "POST", "/api/generate", gen(2, true)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(lines(yield* Fiber.join(f)).length, 3)
      const stats = json(yield* call(node, "GET", "/__sim/stats"))
      assert.strictEqual(stats["served"], 1)
      assert.deepStrictEqual(stats["perEndpoint"], { "/api/generate": 1 })
      assert.deepStrictEqual(stats["perModel"], { "tiny:latest": 1 })
      assert.deepStrictEqual(stats["fault"], { mode: "slow", factor: 2 })
    }))
})
