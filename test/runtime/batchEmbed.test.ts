import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { chunkSizeFor, MIN_CHUNK } from "../../src/runtime/batchEmbed.js"
import { assertInOrder, docsOf, hetero3, runBatch } from "../support/batchCluster.js"

const count = (r: Readonly<Record<string, number>>, node: string) => r[node] ?? 0

describe("batchEmbed placement over hetero3 (TestClock)", () => {
  it("cuts a small batch finer, up to batchSize", () => {
    assert.strictEqual(chunkSizeFor(500, 3, 64), 42)
    assert.strictEqual(chunkSizeFor(2_000, 3, 64), 64)
    assert.strictEqual(chunkSizeFor(100, 3, 64), 9)
    assert.strictEqual(chunkSizeFor(65, 3, 64), MIN_CHUNK)
    assert.strictEqual(chunkSizeFor(65, 3, 4), 4)
    assert.strictEqual(chunkSizeFor(500, 0, 64), 64)
  })

  for (const order of [["fast-gpu", "mid-gpu", "cpu"], ["mid-gpu", "cpu", "fast-gpu"]]) {
    it.scoped(`500 inputs follow throughput whatever the node order (${order.join(", ")})`, () =>
      Effect.gen(function*() {
        const cluster = yield* hetero3(order)
        const docs = docsOf(500)
        const { res } = yield* runBatch(cluster, docs)
        assertInOrder(docs, res)
        // a cold cluster: every node gets a first chunk to measure it, however the registry lists them
        assert.deepStrictEqual([...cluster.sent.keys()].sort(), ["cpu", "fast-gpu", "mid-gpu"])
        assert.isAtLeast(Object.keys(res.chunksByNode).length, 2)
        const fast = count(res.docsByNode, "fast-gpu")
        const mid = count(res.docsByNode, "mid-gpu")
        const cpu = count(res.docsByNode, "cpu")
        assert.isAbove(fast, mid)
        assert.isAtLeast(mid, cpu)
        assert.isAtMost(count(res.chunksByNode, "cpu"), 1)
        // 42-document chunks: 12 of them
        assert.strictEqual(Object.values(res.chunksByNode).reduce((a, b) => a + b, 0), 12)
      }))
  }

  it.scoped("once rates are learned, the CPU takes nothing it would finish last and the batch ends near the ideal", () =>
    Effect.gen(function*() {
      const cluster = yield* hetero3(["mid-gpu", "cpu", "fast-gpu"])
      yield* runBatch(cluster, docsOf(500, "a"))
      cluster.sent.clear()
      const docs = docsOf(500, "b")
      const { elapsedMs, res } = yield* runBatch(cluster, docs)
      assertInOrder(docs, res)
      assert.strictEqual(cluster.sent.get("cpu") ?? 0, 0)
      const fast = count(res.docsByNode, "fast-gpu")
      assert.isAbove(fast, count(res.docsByNode, "mid-gpu"))
      // 20 000 : 8 000 tok/s between the GPUs
      assert.isAbove(fast / docs.length, 0.6)
      // about 8 000 prompt tokens at 28 000 tok/s: 290 ms; one node alone would take 400 ms or more
      assert.isBelow(elapsedMs, 360)
    }))

  it.scoped("2,000 inputs: cut at batchSize, shared by throughput", () =>
    Effect.gen(function*() {
      const cluster = yield* hetero3()
      const docs = docsOf(2_000)
      const { res } = yield* runBatch(cluster, docs)
      assertInOrder(docs, res)
      assert.strictEqual(Object.values(res.chunksByNode).reduce((a, b) => a + b, 0), 32)
      assert.isAbove(count(res.docsByNode, "fast-gpu"), count(res.docsByNode, "mid-gpu"))
      assert.isAtMost(count(res.chunksByNode, "cpu"), 2)
    }))

  it.scoped("a node that refuses every chunk loses none: they are retried elsewhere, in order", () =>
    Effect.gen(function*() {
      const cluster = yield* hetero3()
      cluster.refuse.add("fast-gpu")
      const docs = docsOf(300)
      const { res } = yield* runBatch(cluster, docs)
      assertInOrder(docs, res)
      assert.strictEqual(count(res.docsByNode, "fast-gpu"), 0)
      assert.isAbove(res.retries, 0)
      assert.isAbove(count(res.docsByNode, "mid-gpu"), count(res.docsByNode, "cpu"))
    }))
})
