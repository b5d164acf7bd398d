import { describe, expect, it } from "vitest"
import { diffAlerts, evaluateAlerts } from "../../src/observability/alerts.js"
import type { AlertInput } from "../../src/observability/alerts.js"
import { makeRequestWindow, percentile } from "../../src/observability/window.js"
import type { DecisionRecord } from "../../src/runtime/DecisionLog.js"

const stats = (requests: number, successRate: number, p95Ms: number) => ({
  requests,
  successRate,
  p50Ms: p95Ms / 2,
  p95Ms,
  rps: 1
})

const base: AlertInput = {
  nodes: [
    { nodeId: "a", health: "healthy", drained: false },
    { nodeId: "b", health: "healthy", drained: false }
  ],
  byNode: {},
  queueDepth: 0,
  queueCapacity: 100
}

describe("alert rules", () => {
  it("raise nothing for a healthy, fast, idle cluster", () => {
    expect(evaluateAlerts({ ...base, byNode: { a: stats(50, 1, 200) } })).toEqual([])
  })

  it("flag degraded and excluded nodes, drained ones only as a warning", () => {
    const alerts = evaluateAlerts({
      ...base,
      nodes: [
        { nodeId: "a", health: "degraded", drained: false },
        { nodeId: "b", health: "excluded", drained: false },
        { nodeId: "c", health: "excluded", drained: true }
      ]
    })
    expect(alerts.map((a) => [a.key, a.severity])).toEqual([
      ["node.degraded:a", "warning"],
      ["node.excluded:b", "critical"],
      ["node.excluded:c", "warning"]
    ])
  })

  it("judge latency and success rate only past the minimum sample count", () => {
    const few = evaluateAlerts({ ...base, byNode: { a: stats(4, 0, 90_000) } })
    expect(few).toEqual([])
    const many = evaluateAlerts({ ...base, byNode: { a: stats(10, 0.5, 90_000) } })
    expect(many.map((a) => a.key)).toEqual(["success.low:a", "latency.high:a"])
  })

  it("warn when the queue is near full", () => {
    expect(evaluateAlerts({ ...base, queueDepth: 79 })).toEqual([])
    expect(evaluateAlerts({ ...base, queueDepth: 80 }).map((a) => a.key)).toEqual(["queue.full"])
  })

  it("emit a raise once and a clear when the condition goes away", () => {
    const [excluded] = evaluateAlerts({ ...base, nodes: [{ nodeId: "a", health: "excluded", drained: false }] })
    const raised = diffAlerts(new Map(), [excluded!], 10)
    expect(raised).toEqual([{ ...excluded!, active: true, at: 10 }])
    expect(diffAlerts(new Map([[excluded!.key, excluded!]]), [excluded!], 11)).toEqual([])
    expect(diffAlerts(new Map([[excluded!.key, excluded!]]), [], 12)).toEqual([{ ...excluded!, active: false, at: 12 }])
  })
})

const decision = (node: string, at: number, durationMs: number, outcome: DecisionRecord["outcome"] = "ok") =>
  ({ node, at, durationMs, outcome }) as DecisionRecord

describe("request window", () => {
  it("computes nearest-rank percentiles", () => {
    expect(percentile([], 0.5)).toBe(0)
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2)
    expect(percentile([1, 2, 3, 4], 0.95)).toBe(4)
  })

  it("keeps the last window per node, ignores aborts, and rates successes", () => {
    const w = makeRequestWindow(10_000)
    w.add(decision("a", 0, 100))
    w.add(decision("a", 5_000, 300))
    w.add(decision("a", 6_000, 50, "error"))
    w.add(decision("b", 6_000, 10, "aborted"))
    const s = w.stats(10_050)
    expect(s.byNode["a"]).toEqual({ requests: 3, successRate: 2 / 3, p50Ms: 100, p95Ms: 300, rps: 0.3 })
    expect(s.byNode["b"]).toBeUndefined()
    const later = w.stats(15_200)
    expect(later.byNode["a"]?.requests).toBe(2)
    expect(w.stats(30_000).all.requests).toBe(0)
  })
})
