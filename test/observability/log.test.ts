import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option, TestClock } from "effect"
import * as NodeRegistry from "../../src/actors/NodeRegistry.js"
import { NodeId } from "../../src/domain/NodeId.js"
import * as Log from "../../src/observability/log.js"
import * as DecisionLog from "../../src/runtime/DecisionLog.js"
import type { DecisionRecord } from "../../src/runtime/DecisionLog.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { makeSimNode } from "../../src/sim/SimNode.js"

const decision = (over: Partial<DecisionRecord> = {}): DecisionRecord => ({
  requestId: "req-1",
  at: 0,
  kind: "chat",
  model: "llama3.2:3b",
  taskType: "generation",
  complexity: "simple",
  priority: 5,
  strategy: "sollol",
  node: "gpu-1",
  score: 1,
  factors: [],
  candidates: [],
  reasoning: "fastest expected completion",
  queueWaitMs: 0,
  attempts: 1,
  hedged: false,
  outcome: "ok",
  status: 200,
  error: undefined,
  durationMs: 42,
  ttftMs: undefined,
  ...over
})

const withLog = (level: Log.LogLevelName, lines: Array<Record<string, unknown>>) =>
  Log.layer({ level, write: (l) => void lines.push(JSON.parse(l)) }).pipe(
    Layer.provideMerge(Layer.merge(DecisionLog.layer(), NodeRegistry.layer({ livenessInterval: "1 hour" })))
  )

/** Adds the simulated node `gpu-1` to the registry. */
const addSimNode = Effect.gen(function*() {
  const registry = yield* NodeRegistry.NodeRegistry
  const node = yield* makeSimNode({ name: "gpu-1", profile: "gpu-datacenter", models: ["llama3.2:3b"], seed: 1 })
  const nodeId = NodeId("gpu-1")
  yield* registry.add({ nodeId, url: "sim://gpu-1", makeUpstream: Effect.succeed(simUpstream(node, nodeId)) })
  return { nodeId, registry }
})

describe("JSON logs", () => {
  it.scoped("write one line per finished request with its id, node, model, status, duration and attempts", () => {
    const lines: Array<Record<string, unknown>> = []
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const log = yield* DecisionLog.DecisionLog
      yield* log.record(decision())
      yield* log.record(
        decision({ requestId: "req-2", outcome: "error", status: 502, attempts: 3, error: "Transport" })
      )
      assert.strictEqual(lines.length, 2)
      assert.deepInclude(lines[0], {
        time: "2026-01-01T00:00:00.000Z",
        level: "info",
        msg: "request",
        requestId: "req-1",
        node: "gpu-1",
        model: "llama3.2:3b",
        status: 200,
        durationMs: 42,
        attempts: 1
      })
      assert.deepInclude(lines[1], { level: "error", requestId: "req-2", status: 502, attempts: 3, outcome: "error" })
    }).pipe(Effect.provide(withLog("info", lines)))
  })

  it.scoped("log node membership and health changes, and honour the level", () => {
    const lines: Array<Record<string, unknown>> = []
    return Effect.gen(function*() {
      const { nodeId, registry } = yield* addSimNode
      const handle = Option.getOrThrow(registry.get(nodeId))
      for (let i = 0; i < 3; i++) yield* handle.report({ ok: false, reason: "connection refused" })
      yield* (yield* DecisionLog.DecisionLog).record(decision())
      yield* TestClock.adjust("10 millis")
      // "warn": the ok request and the node joining stay out, the exclusion after failures is in
      assert.deepStrictEqual(lines.map((l) => [l["level"], l["msg"], l["node"], l["health"]]), [
        ["error", "node health changed", "gpu-1", "excluded"]
      ])
    }).pipe(Effect.provide(withLog("warn", lines)))
  })

  it.scoped("log a drain as information, marked as such", () => {
    const lines: Array<Record<string, unknown>> = []
    return Effect.gen(function*() {
      const { nodeId, registry } = yield* addSimNode
      yield* registry.drain(nodeId)
      yield* TestClock.adjust("10 millis")
      const changes = lines.filter((l) => l["msg"] === "node health changed")
      assert.deepStrictEqual(changes.map((l) => [l["level"], l["node"], l["health"], l["drained"]]), [
        ["info", "gpu-1", "excluded", true]
      ])
    }).pipe(Effect.provide(withLog("info", lines)))
  })

  it.scoped("write nothing at level none", () => {
    const lines: Array<Record<string, unknown>> = []
    return Effect.gen(function*() {
      yield* (yield* DecisionLog.DecisionLog).record(decision({ outcome: "error", status: 500 }))
      assert.strictEqual(lines.length, 0)
    }).pipe(Effect.provide(withLog("none", lines)))
  })

  it.effect("render Effect's own log calls as JSON lines with their annotations, above the level", () => {
    const lines: Array<Record<string, unknown>> = []
    const write = (l: string) => void lines.push(JSON.parse(l))
    return Effect.gen(function*() {
      yield* Effect.logDebug("hidden")
      yield* Effect.logWarning("node not added").pipe(Effect.annotateLogs("node", "gpu-2"))
      assert.deepStrictEqual(lines.map((l) => [l["level"], l["msg"], l["node"]]), [["warn", "node not added", "gpu-2"]])
    }).pipe(Log.withJsonLogging({ level: "info", write }))
  })

  it.effect("leave no other logger writing beside it (the CLI's runMain installs a pretty one)", () => {
    const lines: Array<string> = []
    const pretty: Array<string> = []
    const other = Logger.make(({ message }) => void pretty.push(String(message)))
    return Effect.gen(function*() {
      yield* Effect.logWarning("node not added")
      assert.strictEqual(lines.length, 1)
      assert.deepStrictEqual(pretty, [])
    }).pipe(Log.withJsonLogging({ level: "info", write: (l) => void lines.push(l) }), Effect.provide(Logger.add(other)))
  })

  it.scoped("list the nodes already present when logging starts", () => {
    const lines: Array<Record<string, unknown>> = []
    return Effect.gen(function*() {
      yield* addSimNode
      yield* Layer.build(Log.layer({ level: "info", write: (l) => void lines.push(JSON.parse(l)) }))
      assert.deepStrictEqual(lines.map((l) => [l["msg"], l["node"], l["health"]]), [
        ["node present", "gpu-1", "healthy"]
      ])
    }).pipe(Effect.provide(Layer.merge(DecisionLog.layer(), NodeRegistry.layer({ livenessInterval: "1 hour" }))))
  })
})
