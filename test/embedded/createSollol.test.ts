import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SollolError } from "../../src/client/SollolError.js"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { simCluster } from "./support.js"
import type { SimCluster } from "./support.js"

const model = "llama3.2:3b"

describe("createSollol over in-process simulated nodes", () => {
  let sim: SimCluster
  let sollol: Sollol
  beforeAll(async () => {
    sim = await simCluster("hetero3", 200)
    sollol = await createSollol({ nodes: sim.nodes, upstreamFactory: sim.upstreamFactory, database: ":memory:", logLevel: "none" })
  })
  afterAll(async () => {
    await sollol.close()
    await sim.close()
  })

  it("answers a non-streaming chat with the parsed JSON and its routing", async () => {
    const res = await sollol.chat({ model, messages: [{ role: "user", content: "Hello" }], options: { num_predict: 8 } })
    expect(res.done).toBe(true)
    expect(res.message?.role).toBe("assistant")
    const routing = res["_sollol_routing"] as { node: string; attempts: number }
    expect(sim.nodes.map((n) => n.name)).toContain(routing.node)
    expect(routing.attempts).toBe(1)
  })

  it("streams generate as an async iterable of parsed chunks", async () => {
    const stream = await sollol.generate({ model, prompt: "Count", stream: true, options: { num_predict: 12 } }, { priority: 9 })
    const parts = []
    for await (const part of stream) parts.push(part)
    expect(parts.length).toBeGreaterThan(1)
    expect(parts.at(-1)?.done).toBe(true)
    expect(parts.slice(0, -1).every((p) => p.done === false && typeof p.response === "string")).toBe(true)
  })

  it("stops the node's work when the consumer leaves a stream early", async () => {
    const stream = await sollol.chat({ model, messages: [{ role: "user", content: "long" }], stream: true, options: { num_predict: 20_000 } })
    for await (const _ of stream) break
    const nodes = await sollol.nodes()
    await expect.poll(async () => (await sollol.nodes()).reduce((n, v) => n + v.inFlight, 0)).toBe(0)
    expect(nodes).toHaveLength(3)
  })

  it("embeds and fails with typed errors", async () => {
    const res = await sollol.embed({ model: "nomic-embed-text", input: ["a", "b"] })
    expect(res.embeddings).toHaveLength(2)
    const unknown = await sollol.chat({ model: "nope", messages: [] }).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(SollolError)
    expect(unknown).toMatchObject({ status: 404, message: "model 'nope' not found" })
    await expect(sollol.chat({ model, messages: [] }, { priority: 11 })).rejects.toMatchObject({ status: 400 })
    await expect(sollol.generate({ model, prompt: 3 as unknown as string })).rejects.toMatchObject({ status: 400 })
  })

  it("rejects an aborted request with status 499 and frees its slot", async () => {
    const controller = new AbortController()
    const pending = sollol.chat({ model, messages: [{ role: "user", content: "x" }], options: { num_predict: 20_000 } }, { signal: controller.signal })
    setImmediate(() => controller.abort())
    await expect(pending).rejects.toMatchObject({ status: 499 })
    await expect.poll(async () => (await sollol.nodes()).reduce((n, v) => n + v.inFlight, 0)).toBe(0)
  })

  it("counts requests in stats", async () => {
    const stats = await sollol.stats()
    expect(stats.requests.ok).toBeGreaterThanOrEqual(3)
    expect(stats.nodes.map((n) => n.node).sort()).toEqual(["cpu", "fast-gpu", "mid-gpu"])
  })
})

describe("createSollol config", () => {
  it("names a bad field and an unknown strategy", async () => {
    await expect(createSollol({ nodes: [{ url: "ftp://x" }] })).rejects.toThrow(/nodes\.0\.url/)
    await expect(createSollol({ strategy: "nope", database: ":memory:" })).rejects.toThrow(/unknown strategy 'nope'/)
  })
})
