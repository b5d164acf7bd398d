import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { batchRoutingOf, connect } from "../../src/client/connect.js"
import { SollolError } from "../../src/client/SollolError.js"
import type { BatchProgress, SollolApi } from "../../src/client/types.js"
import { embeddingVector } from "../../src/sim/rng.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const model = "llama3.2:3b"

const direct = (text: string, dims: number): Array<number> => {
  const cut = embeddingVector("nomic-embed-text:latest", text, 768).slice(0, dims)
  const norm = Math.sqrt(cut.reduce((s, x) => s + x * x, 0)) || 1
  return cut.map((x) => Math.fround(x / norm))
}

describe("connect: the SDK against a running gateway", () => {
  let cluster: Cluster
  let client: SollolApi
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 100 })
    client = connect(`${cluster.url}/`, { priority: 3 })
  })
  afterAll(() => cluster.close())

  it("answers chat as JSON and streams generate as parsed chunks", async () => {
    const res = await client.chat({ model, messages: [{ role: "user", content: "Hi" }], options: { num_predict: 6 } })
    expect(res.done).toBe(true)
    expect((res["_sollol_routing"] as { priority: number }).priority).toBe(3)
    const stream = await client.generate({ model, prompt: "Go", stream: true, options: { num_predict: 6 } }, { priority: 8 })
    const parts = []
    for await (const p of stream) parts.push(p)
    expect(parts.at(-1)?.done).toBe(true)
    expect(parts.length).toBeGreaterThan(1)
    const decisions = await fetch(`${cluster.url}/api/sollol/decisions?limit=1`).then((r) => r.json()) as {
      decisions: Array<{ priority: number }>
    }
    expect(decisions.decisions[0]?.priority).toBe(8)
  })

  it("throws SollolError with the gateway's status", async () => {
    const error = await client.chat({ model: "nope", messages: [] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject({ status: 404, message: "model 'nope' not found" })
    await expect(client.chat({ model, messages: [] }, { priority: 42 })).rejects.toMatchObject({ status: 400 })
    await expect(connect("http://127.0.0.1:9").stats()).rejects.toMatchObject({ status: 503 })
  })

  it("ends a stream broken by its node with a SollolError", async () => {
    await Effect.runPromise(Effect.forEach(cluster.nodes, ({ node }) => node.setFault({ mode: "truncate", afterChunks: 2 })))
    try {
      const stream = await client.chat({ model, messages: [{ role: "user", content: "story" }], stream: true, options: { num_predict: 40 } })
      const error = await (async () => {
        for await (const _ of stream) void _
      })().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SollolError)
      // the same status and wording as createSollol gives (test/embedded/errorStatus.test.ts)
      expect(error).toMatchObject({ status: 502, message: expect.stringMatching(/^upstream failed mid-stream: /) })
    } finally {
      await Effect.runPromise(Effect.forEach(cluster.nodes, ({ node }) => node.setFault({ mode: "none" })))
    }
  })

  it("spreads a large /api/embed across nodes and merges it in input order", async () => {
    const docs = Array.from({ length: 1_500 }, (_, i) => `doc ${i}`)
    const res = await client.batchEmbed(docs, { model: "nomic-embed-text", batchSize: 50, dimensions: 8 })
    expect(res.embeddings).toHaveLength(docs.length)
    expect(res.embeddings.findIndex((v, i) => JSON.stringify(v) !== JSON.stringify(direct(docs[i]!, 8)))).toBe(-1)
    const chunks = res._sollol_routing.chunks_by_node
    expect(Object.values(chunks).reduce((a, b) => a + b, 0)).toBe(30)
    expect(Object.keys(chunks).length).toBeGreaterThan(1)
    expect(res.prompt_eval_count).toBeGreaterThan(0)
    expect(res.total_duration).toBeGreaterThan(0)
  })

  it("reports a batch's progress once, at the end, with the gateway's chunk count and nodes", async () => {
    const docs = Array.from({ length: 650 }, (_, i) => `doc ${i}`)
    const events: Array<BatchProgress> = []
    const res = await client.batchEmbed(docs, { model: "nomic-embed-text", batchSize: 50, dimensions: 8, onProgress: (p) => events.push(p) })
    const nodes = Object.keys(res._sollol_routing.chunks_by_node)
    expect(Object.values(res._sollol_routing.chunks_by_node).reduce((a, b) => a + b, 0)).toBe(13)
    expect(events).toEqual([{ done: 650, total: 650, chunksDone: 13, chunks: 13, node: nodes.join(","), nodes }])
  })

  it("reports a batch the gateway sent whole to one node as one chunk on that node", async () => {
    const events: Array<BatchProgress> = []
    const docs = Array.from({ length: 10 }, (_, i) => `doc ${i}`)
    const res = await client.batchEmbed(docs, { model: "nomic-embed-text", batchSize: 5, onProgress: (p) => events.push(p) })
    expect(res.embeddings).toHaveLength(10)
    const [node, ...others] = Object.keys(res._sollol_routing.chunks_by_node)
    expect(others).toEqual([])
    expect(cluster.nodes.map((n) => n.spec.name)).toContain(node)
    expect(res._sollol_routing).toEqual({ chunks_by_node: { [node!]: 1 }, docs_by_node: { [node!]: 10 }, retries: 0 })
    expect(events).toEqual([{ done: 10, total: 10, chunksDone: 1, chunks: 1, node, nodes: [node] }])
    await client.batchEmbed([], { model: "nomic-embed-text", onProgress: (p) => events.push(p) })
    expect(events).toHaveLength(1)
  })

  it("lists nodes and stats", async () => {
    expect((await client.nodes()).map((n) => n.nodeId).sort()).toEqual(["cpu", "fast-gpu", "mid-gpu"])
    const stats = await client.stats()
    expect(stats.requests.ok).toBeGreaterThan(0)
  })
})

describe("batchRoutingOf", () => {
  it("falls back to the X-SOLLOL-Node header when the answer carries no routing", () => {
    expect(batchRoutingOf(7, {}, "mid-gpu")).toEqual({ chunksByNode: { "mid-gpu": 1 }, docsByNode: { "mid-gpu": 7 }, retries: 0 })
    expect(batchRoutingOf(7, {}, null)).toEqual({ chunksByNode: {}, docsByNode: {}, retries: 0 })
  })
})
