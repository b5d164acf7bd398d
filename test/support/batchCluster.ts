/**
 * hetero3's in-process sim nodes behind the real runtime on TestClock, for batch-embedding tests: build the cluster,
 * run one batch to its end in virtual time, and check its vectors against the sim's own.
 */
import { assert } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Layer, TestClock } from "effect"
import type { Context } from "effect"
import { makeAppConfig } from "../../src/AppConfig.js"
import { UpstreamError } from "../../src/domain/errors.js"
import type { Upstream } from "../../src/domain/Upstream.js"
import { batchEmbed } from "../../src/runtime/batchEmbed.js"
import type { BatchEmbedOptions, BatchEmbedResult } from "../../src/runtime/batchEmbed.js"
import * as Sollol from "../../src/runtime/Sollol.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { embeddingVector } from "../../src/sim/rng.js"
import { makeScenarioNodes } from "../../src/sim/scenarios.js"

export const model = "nomic-embed-text"
// The sim spends real CPU per vector and per JSON number; 16 dimensions keep that well below the simulated time.
const dimensions = 16
export const docsOf = (n: number, salt = "") => Array.from({ length: n }, (_, i) => `short document number ${i}${salt} on topic ${i % 97}, with a few more words`)

/** What a direct call gives for one document: the sim's vector, cut to `dimensions` and renormalised. */
const direct = (text: string): Array<number> => {
  const cut = embeddingVector("nomic-embed-text:latest", text, 768).slice(0, dimensions)
  const norm = Math.sqrt(cut.reduce((s, x) => s + x * x, 0)) || 1
  return cut.map((x) => Math.fround(x / norm))
}

/** Every vector is the embedding of its own document: nothing missing, duplicated or out of order. */
export const assertInOrder = (docs: ReadonlyArray<string>, res: BatchEmbedResult) => {
  assert.strictEqual(res.embeddings.length, docs.length)
  assert.strictEqual(res.embeddings.findIndex((v, i) => JSON.stringify(v) !== JSON.stringify(direct(docs[i]!))), -1)
  assert.strictEqual(Object.values(res.docsByNode).reduce((a, b) => a + b, 0), docs.length)
}

export interface Cluster {
  readonly context: Context.Context<Layer.Layer.Success<ReturnType<typeof Sollol.layer>>>
  /** `/api/embed` calls each node received (cancelled backups included). */
  readonly sent: Map<string, number>
  /** Makes a node refuse every `/api/embed` call from now on. */
  readonly refuse: Set<string>
}

/** hetero3's in-process nodes behind the real runtime, listed in `order` (the registry's order), on TestClock. */
export const hetero3 = (order: ReadonlyArray<string> = ["fast-gpu", "mid-gpu", "cpu"]) =>
  Effect.gen(function*() {
    const nodes = yield* makeScenarioNodes("hetero3", { seed: 7 })
    const sent = new Map<string, number>()
    const refuse = new Set<string>()
    const watched = (upstream: Upstream): Upstream => ({
      ...upstream,
      send: (request, accept, options) => {
        if (request.path !== "/api/embed") return upstream.send(request, accept, options)
        sent.set(upstream.nodeId, (sent.get(upstream.nodeId) ?? 0) + 1)
        if (refuse.has(upstream.nodeId)) return Effect.fail(new UpstreamError({ nodeId: upstream.nodeId, reason: "Transport", detail: "refused" }))
        return upstream.send(request, accept, options)
      }
    })
    const config = makeAppConfig({
      database: ":memory:",
      logLevel: "none",
      nodes: order.map((name) => ({ url: `http://${name}.sim:11434`, name })),
      routing: { retryBackoffMs: 1 }
    })
    const layer = Sollol.layer(config, {
      upstreamFactory: (nodeId) => Effect.succeed(watched(simUpstream(nodes.find((n) => n.spec.name === nodeId)!.node, nodeId)))
    }).pipe(Layer.orDie)
    const context = yield* Layer.build(layer)
    return { context, sent, refuse } satisfies Cluster
  })

/** Runs one batch to its end, moving virtual time to each next timer in turn (at least 0.1 ms a step). */
export const runBatch = (cluster: Cluster, docs: ReadonlyArray<string>, options: Partial<BatchEmbedOptions> = {}) =>
  Effect.gen(function*() {
    const progress: Array<number> = []
    const fiber = yield* Effect.fork(
      batchEmbed(docs, { model, extra: { dimensions }, onProgress: (p) => progress.push(p.done), ...options }).pipe(
        Effect.provide(cluster.context)
      )
    )
    for (let i = 0; i < 60_000 && fiber.unsafePoll() === null; i++) {
      const now = yield* Clock.currentTimeMillis
      const next = Math.min(...Chunk.toReadonlyArray(yield* TestClock.sleeps()))
      yield* TestClock.adjust(Math.max(Number.isFinite(next) ? next - now : 1, 0.1))
    }
    const res = yield* Fiber.join(fiber)
    assert.deepStrictEqual(progress, [...progress].sort((a, b) => a - b))
    assert.strictEqual(progress.at(-1), docs.length)
    return { res, elapsedMs: res.totalDuration / 1e6 }
  })
