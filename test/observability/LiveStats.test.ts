import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream, TestClock } from "effect"
import * as NodeRegistry from "../../src/actors/NodeRegistry.js"
import { NodeId } from "../../src/domain/NodeId.js"
import * as LiveStats from "../../src/observability/LiveStats.js"
import * as Admission from "../../src/runtime/Admission.js"
import * as DecisionLog from "../../src/runtime/DecisionLog.js"
import type { DecisionRecord } from "../../src/runtime/DecisionLog.js"
import * as LearningStore from "../../src/runtime/LearningStore.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { makeSimNode } from "../../src/sim/SimNode.js"

const base = Layer.mergeAll(
  DecisionLog.layer(),
  NodeRegistry.layer({ livenessInterval: "1 hour" }),
  Admission.layer({ maxSize: 10, agingIntervalMs: 5_000, maxWaitMs: 60_000 }),
  LearningStore.layer()
)
const live = LiveStats.layer({ queueCapacity: 10, windowMs: 10_000 }).pipe(Layer.provideMerge(base))

const record = (node: string, at: number, outcome: DecisionRecord["outcome"]) =>
  Effect.flatMap(DecisionLog.DecisionLog, (log) =>
    log.record({
      requestId: `r${at}`, at, kind: "chat", model: "llama3.2:3b", taskType: "generation", complexity: "simple",
      priority: 5, strategy: "sollol", node, score: 0, factors: [], candidates: [], reasoning: "", queueWaitMs: 0,
      attempts: 1, hedged: false, outcome, status: outcome === "ok" ? 200 : 502, error: undefined, durationMs: 100,
      ttftMs: undefined
    }))

describe("LiveStats", () => {
  it.scoped("summarises the window per node and raises then clears alerts on the event stream", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.NodeRegistry
      const stats = yield* LiveStats.LiveStats
      const sim = yield* makeSimNode({ name: "gpu-1", profile: "gpu-datacenter", models: ["llama3.2:3b"], seed: 1 })
      const nodeId = NodeId("gpu-1")
      yield* registry.add({ nodeId, url: "sim://gpu-1", makeUpstream: Effect.succeed(simUpstream(sim, nodeId)) })

      for (let i = 0; i < 6; i++) yield* record("gpu-1", i * 100, i < 3 ? "ok" : "error")
      const summary = yield* stats.refresh
      assert.deepStrictEqual(
        { requests: summary.nodes["gpu-1"]?.requests, successRate: summary.nodes["gpu-1"]?.successRate },
        { requests: 6, successRate: 0.5 }
      )
      assert.deepStrictEqual((yield* stats.activeAlerts).map((a) => a.key), ["success.low:gpu-1"])

      const events = yield* stats.events.pipe(
        Stream.filter((e) => e.event === "alert"),
        Stream.take(3),
        Stream.runCollect,
        Effect.fork
      )
      yield* TestClock.adjust("1 millis")
      yield* registry.drain(nodeId)
      yield* TestClock.adjust("1 second")
      // The window moves past the failures: the success alert clears, the drained node's stays.
      yield* TestClock.adjust("11 seconds")
      const seen = Chunk.toArray(yield* Fiber.join(events)).map((e) =>
        e.event === "alert" ? [e.data.key, e.data.active] : []
      )
      assert.deepStrictEqual(seen, [
        ["success.low:gpu-1", true],
        ["node.excluded:gpu-1", true],
        ["success.low:gpu-1", false]
      ])
    }).pipe(Effect.provide(live)))
})
