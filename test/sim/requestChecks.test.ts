/**
 * The simulated node refuses what Ollama refuses, with Ollama's words: fields of the wrong JSON type (Go's decoder),
 * a chat without a model on the OpenAI route; and it honours `dimensions` on `/v1/embeddings` as `/api/embed` does.
 */
import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { makeSimNode } from "../../src/sim/SimNode.js"
import { testProfile } from "./fixtures.js"
import { call, json, lines } from "./helpers.js"

const errorOf = (body: Record<string, unknown>) => {
  const e = body["error"]
  return typeof e === "string" ? e : (e as { message: string }).message
}

describe("sim request checks", () => {
  it.scoped("refuses native fields of the wrong JSON type with Go's decoder text, before loading anything", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const cases: ReadonlyArray<readonly [string, unknown, string]> = [
        ["/api/chat", { model: "tiny", messages: "hi" }, "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"],
        ["/api/chat", { model: "tiny", messages: [], stream: "no" }, "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"],
        ["/api/generate", { model: 123, prompt: "x" }, "json: cannot unmarshal number into Go struct field GenerateRequest.model of type string"],
        ["/api/embed", { model: "emb", input: "x", options: [] }, "json: cannot unmarshal array into Go struct field EmbedRequest.options of type map[string]interface {}"],
        ["/api/embeddings", { model: "emb", prompt: 5 }, "json: cannot unmarshal number into Go struct field EmbeddingRequest.prompt of type string"]
      ]
      for (const [path, body, text] of cases) {
        const r = yield* call(node, "POST", path, body)
        assert.strictEqual(r.status, 400, path)
        assert.strictEqual(errorOf(json(r)), text)
      }
      assert.strictEqual((yield* node.stats).loads, 0)
    }))

  it.scoped("answers an OpenAI chat without a model with 400 model is required", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const r = yield* call(node, "POST", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(r.status, 400)
      assert.deepStrictEqual(json(r)["error"], { message: "model is required", type: "invalid_request_error", param: null, code: null })
    }))

  it.scoped("shortens /v1/embeddings vectors to `dimensions`, re-normalised", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["emb"] })
      const fiber = yield* Effect.fork(call(node, "POST", "/v1/embeddings", { model: "emb", input: "hello there", dimensions: 8 }))
      yield* TestClock.adjust("1 second")
      const r = yield* fiber
      const vector = (json(r)["data"] as Array<{ embedding: Array<number> }>)[0]!.embedding
      assert.strictEqual(vector.length, 8)
      assert.closeTo(Math.hypot(...vector), 1, 1e-5)
    }))
})

describe("sim blobs, push and status", () => {
  it.scoped("keeps a blob uploaded under its own digest, refuses one under another", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const digest = `sha256:${createHash("sha256").update("weights").digest("hex")}`
      assert.strictEqual((yield* call(node, "HEAD", `/api/blobs/${digest}`)).status, 404)
      assert.strictEqual((yield* call(node, "POST", `/api/blobs/${digest}`, "other")).status, 400)
      assert.strictEqual((yield* call(node, "POST", `/api/blobs/${digest}`, "weights")).status, 201)
      assert.strictEqual((yield* call(node, "POST", `/api/blobs/${digest}`, "weights")).status, 200)
      assert.strictEqual((yield* call(node, "HEAD", `/api/blobs/${digest}`)).status, 200)
      assert.strictEqual((yield* call(node, "HEAD", "/api/blobs/sha256:zz")).status, 400)
      // create finds the blob, but it is no model file
      const made = yield* call(node, "POST", "/api/create", { model: "mine", files: { "m.gguf": digest }, stream: false })
      assert.deepStrictEqual(json(made), { error: "invalid file magic" })
    }))

  it.scoped("pushes an installed model with Ollama's progress, and says what it has not", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile })
      const fiber = yield* Effect.fork(call(node, "POST", "/api/push", { model: "tiny" }))
      yield* TestClock.adjust("10 seconds")
      const statuses = lines(yield* fiber).map((l) => l["status"])
      assert.deepStrictEqual([statuses[0], statuses.at(-1)], ["retrieving manifest", "success"])
      const missing = lines(yield* call(node, "POST", "/api/push", { model: "nosuch" }))
      assert.deepStrictEqual(missing.at(-1), { error: "model 'nosuch' not found" })
      assert.deepStrictEqual(json(yield* call(node, "GET", "/api/status")), { cloud: { disabled: true, source: "none" } })
    }))
})

describe("sim request JSON", () => {
  it.scoped("words a malformed body as Go's decoder does, and reads only a body's first value", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const bad = yield* call(node, "POST", "/api/generate", '{"model": x}')
      assert.deepStrictEqual([bad.status, json(bad)], [400, { error: "invalid character 'x' looking for beginning of value" }])
      const comma = yield* call(node, "POST", "/api/generate", '{"model":"tiny",}')
      assert.strictEqual(errorOf(json(comma)), "invalid character '}' looking for beginning of object key string")
      const fiber = yield* Effect.fork(call(node, "POST", "/api/generate", '{"model":"tiny","prompt":"hi","stream":false,"options":{"num_predict":2}} trailing'))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* fiber).status, 200)
    }))
})

describe("sim request rules of ollama-api.md §3", () => {
  it.scoped("refuses raw with a system prompt, thinking on a model that cannot, top_logprobs past 20, and a bad name", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["tiny"] })
      const refused = (path: string, body: unknown, method = "POST") => Effect.map(call(node, method, path, body), (r) => [r.status, errorOf(json(r))])
      assert.deepStrictEqual(yield* refused("/api/generate", { model: "tiny", prompt: "hi", raw: true, system: "x" }), [400, "raw mode does not support template, system, or context"])
      assert.deepStrictEqual(yield* refused("/api/generate", { model: "tiny", prompt: "hi", think: true }), [400, '"tiny" does not support thinking'])
      assert.deepStrictEqual(yield* refused("/api/chat", { model: "tiny", messages: [], top_logprobs: 30 }), [400, "top_logprobs must be between 0 and 20"])
      assert.deepStrictEqual(yield* refused("/api/delete", { model: "bad name!" }, "DELETE"), [400, 'name "bad name!" is invalid'])
      assert.deepStrictEqual(yield* refused("/api/delete", {}, "DELETE"), [400, 'name "" is invalid'])
      assert.deepStrictEqual(yield* refused("/api/delete", { model: "nosuch" }, "DELETE"), [404, "model 'nosuch' not found"])
    }))

  it.scoped("refuses an embed input longer than the context only when truncate is false", () =>
    Effect.gen(function*() {
      const node = yield* makeSimNode({ name: "n", profile: testProfile, preload: ["emb"] })
      const long = "abcd".repeat(testProfile.models["emb:latest"]!.contextLength + 1)
      const refused = yield* call(node, "POST", "/api/embed", { model: "emb", input: long, truncate: false })
      assert.deepStrictEqual([refused.status, errorOf(json(refused))], [400, "the input length exceeds the context length"])
      const fiber = yield* Effect.fork(call(node, "POST", "/api/embed", { model: "emb", input: long }))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* fiber).status, 200)
    }))
})
