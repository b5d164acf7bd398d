import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { getJson, probeLiveness, probeModels } from "../../src/actors/probe.js"
import { UpstreamError } from "../../src/domain/errors.js"
import { NodeId } from "../../src/domain/NodeId.js"
import type { Upstream } from "../../src/domain/Upstream.js"

const nodeId = NodeId("n:1")
/** Answers every path with `status` and `body`, split into two chunks to check the body is collected whole. */
const upstreamOf = (reply: (path: string) => { status: number; body: string } | "refuse" | "hang"): Upstream => ({
  nodeId,
  url: "http://n:1",
  send: (request, accept) => {
    const r = reply(request.path)
    if (r === "refuse") return Effect.fail(new UpstreamError({ nodeId, reason: "Transport" }))
    if (r === "hang") return Effect.never
    return Effect.sync(() => {
      const sink = accept({ status: r.status, headers: {} })
      const bytes = Buffer.from(r.body)
      sink.write(bytes.subarray(0, 3))
      sink.write(bytes.subarray(3))
    })
  }
})

describe("probe", () => {
  it.effect("collects a chunked JSON body", () =>
    Effect.gen(function*() {
      const upstream = upstreamOf(() => ({ status: 200, body: "{\"version\":\"0.12.0\"}" }))
      const body = yield* getJson(upstream, "/api/version", 1000)
      assert.deepStrictEqual(body, { version: "0.12.0" })
    }))

  it.effect("fails with a reason for transport errors, bad statuses and bad JSON", () =>
    Effect.gen(function*() {
      const reasonOf = (u: Upstream) => Effect.map(Effect.flip(probeLiveness(u, 1000)), (e) => e.reason)
      assert.strictEqual(yield* reasonOf(upstreamOf(() => "refuse")), "Transport")
      assert.strictEqual(yield* reasonOf(upstreamOf(() => ({ status: 503, body: "{}" }))), "Status")
      assert.strictEqual(yield* reasonOf(upstreamOf(() => ({ status: 200, body: "<html>" }))), "Decode")
    }))

  it.effect("times out a probe that never answers", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(probeLiveness(upstreamOf(() => "hang"), "2 seconds")))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).reason, "Timeout")
    }))

  it.effect("reads installed and loaded models, normalising names", () =>
    Effect.gen(function*() {
      const u = upstreamOf((path) =>
        path === "/api/tags"
          ? { status: 200, body: JSON.stringify({ models: [{ name: "Mistral", digest: "ab", size: 7 }, { x: 1 }] }) }
          : { status: 200, body: JSON.stringify({ models: [{ name: "mistral", digest: "ab", size: 9, size_vram: 5, expires_at: "t" }] }) }
      )
      assert.deepStrictEqual(yield* probeModels(u, 1000), {
        installed: [{ name: "mistral:latest", digest: "ab", size: 7 }],
        loaded: [{ name: "mistral:latest", size: 9, sizeVram: 5, expiresAt: "t", contextLength: undefined }]
      })
      const broken = upstreamOf(() => ({ status: 200, body: "{\"models\":null}" }))
      assert.strictEqual((yield* Effect.flip(probeModels(broken, 1000))).reason, "Decode")
    }))
})
