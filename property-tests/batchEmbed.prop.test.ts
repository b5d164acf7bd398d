/** Laws of distributed batch embedding: chunk sizing, and random batches over hetero3 in virtual time. */
import { Effect, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CHUNKS_PER_NODE, chunkSizeFor, MIN_CHUNK } from "../src/runtime/batchEmbed.js"
import { assertInOrder, docsOf, hetero3, runBatch } from "../test/support/batchCluster.js"

describe("batch embedding laws", () => {
  it("a chunk is at most batchSize, and smaller only to give every node enough chunks", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 512 }), (n, nodes, batchSize) => {
        const size = chunkSizeFor(n, nodes, batchSize)
        expect(size).toBeLessThanOrEqual(batchSize)
        expect(size).toBeGreaterThanOrEqual(Math.min(batchSize, MIN_CHUNK))
        if (size < batchSize && size > MIN_CHUNK) expect(Math.ceil(n / size)).toBeGreaterThanOrEqual(CHUNKS_PER_NODE * nodes - nodes)
        if (size < batchSize) expect(Math.ceil(n / (size + 1))).toBeLessThanOrEqual(CHUNKS_PER_NODE * nodes)
      })
    )
  })

  it("every document comes back once, in order; a refusing node lands nothing; the CPU never out-takes the fast GPU", async () => {
    const order = fc.constantFrom(["fast-gpu", "mid-gpu", "cpu"], ["cpu", "mid-gpu", "fast-gpu"], ["mid-gpu", "cpu", "fast-gpu"])
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 4, max: 128 }),
        order,
        fc.option(fc.constantFrom("fast-gpu", "mid-gpu", "cpu"), { nil: undefined }),
        async (n, batchSize, names, refusing) => {
          const docs = docsOf(n, `/${batchSize}`)
          const { res } = await Effect.runPromise(Effect.gen(function*() {
            const cluster = yield* hetero3(names)
            if (refusing !== undefined) cluster.refuse.add(refusing)
            return yield* runBatch(cluster, docs, { batchSize })
          }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext)))
          assertInOrder(docs, res)
          const chunks = Object.values(res.chunksByNode).reduce((a, b) => a + b, 0)
          expect(chunks).toBe(Math.ceil(n / chunkSizeFor(n, 3, batchSize)))
          if (refusing !== undefined) expect(res.docsByNode[refusing] ?? 0).toBe(0)
          if (refusing !== "fast-gpu") expect(res.docsByNode["cpu"] ?? 0).toBeLessThanOrEqual(res.docsByNode["fast-gpu"] ?? 0)
        }
      ),
      { numRuns: 12 }
    )
  }, 120_000)
})
