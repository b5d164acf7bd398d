import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { embeddingVector } from "../../src/sim/rng.js"
import { simCluster } from "./support.js"
import type { SimCluster } from "./support.js"

const model = "nomic-embed-text"
const docs = Array.from({ length: 10_000 }, (_, i) => `short document number ${i} on topic ${i % 97}, with a few more words`)
// The sim spends real CPU per vector and per JSON number; 16 dimensions keep that well below the simulated time.
const dimensions = 16

/** What a direct call gives for one document: the sim's deterministic vector, cut to `dimensions` and renormalised. */
const direct = (text: string): Array<number> => {
  const cut = embeddingVector("nomic-embed-text:latest", text, 768).slice(0, dimensions)
  const norm = Math.sqrt(cut.reduce((s, x) => s + x * x, 0)) || 1
  return cut.map((x) => Math.fround(x / norm))
}

/** Every vector is the embedding of its own document, so nothing is missing, duplicated or out of order. */
const expectInOrder = (embeddings: ReadonlyArray<ReadonlyArray<number>>) => {
  expect(embeddings).toHaveLength(docs.length)
  const mismatched = embeddings.findIndex((v, i) => JSON.stringify(v) !== JSON.stringify(direct(docs[i]!)))
  expect(mismatched).toBe(-1)
}

describe("batchEmbed over hetero3", () => {
  let sim: SimCluster | undefined
  let sollol: Sollol | undefined
  afterEach(async () => {
    await sollol?.close()
    await sim?.close()
  })
  const start = async () => {
    sim = await simCluster("hetero3", 2)
    sollol = await createSollol({ nodes: sim.nodes, upstreamFactory: sim.upstreamFactory, database: ":memory:", logLevel: "none" })
    return { sim, sollol }
  }

  it("returns 10,000 vectors in input order, shared by node throughput", async () => {
    const { sollol } = await start()
    const progress: Array<number> = []
    const res = await sollol.batchEmbed(docs, { model, batchSize: 64, dimensions, onProgress: (p) => progress.push(p.done) })
    expectInOrder(res.embeddings)
    const docsByNode = res._sollol_routing.docs_by_node
    const fast = docsByNode["fast-gpu"] ?? 0
    const mid = docsByNode["mid-gpu"] ?? 0
    const cpu = docsByNode["cpu"] ?? 0
    expect(fast + mid + cpu).toBe(docs.length)
    // Prefill rates 20 000 : 8 000 : 800 tok/s, so shares near 69% : 28% : 3%.
    expect(fast).toBeGreaterThan(mid)
    expect(mid).toBeGreaterThan(cpu)
    expect(fast / docs.length).toBeGreaterThan(0.45)
    expect(cpu / docs.length).toBeLessThan(0.12)
    expect(progress.at(-1)).toBe(docs.length)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(res.prompt_eval_count).toBeGreaterThan(docs.length)
    await expect.poll(async () => (await sollol.nodes()).reduce((n, v) => n + v.inFlight, 0)).toBe(0)
  }, 30_000)

  it("loses nothing when a node is killed mid-batch", async () => {
    const { sim, sollol } = await start()
    let killed = false
    const res = await sollol.batchEmbed(docs, {
      model,
      batchSize: 100,
      dimensions,
      onProgress: (p) => {
        if (!killed && p.done >= 2_000) {
          killed = true
          Effect.runFork(sim.node("fast-gpu").setFault({ mode: "refuse" }))
        }
      }
    })
    expect(killed).toBe(true)
    expectInOrder(res.embeddings)
    expect(res._sollol_routing.docs_by_node["mid-gpu"]).toBeGreaterThan(0)
    expect(res._sollol_routing.retries).toBeGreaterThan(0)
    const direct0 = await sollol.embed({ model, input: [docs[0]!], dimensions })
    expect(res.embeddings[0]).toEqual(direct0.embeddings[0])
    await expect.poll(async () => (await sollol.nodes()).reduce((n, v) => n + v.inFlight, 0)).toBe(0)
  }, 30_000)

  it("fails with a typed error for an unknown model and returns nothing for no documents", async () => {
    const { sollol } = await start()
    await expect(sollol.batchEmbed(["a"], { model: "nope" })).rejects.toMatchObject({ status: 404 })
    expect((await sollol.batchEmbed([], { model })).embeddings).toEqual([])
  })
})
