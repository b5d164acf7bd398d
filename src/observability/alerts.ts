/**
 * Alert rules over the live view of the cluster: a degraded or excluded node, high latency, a low success rate,
 * a queue near full. Pure: `evaluateAlerts` says what is wrong now, `diffAlerts` turns that into raise/clear events.
 */
import type { Health } from "../domain/Health.js"
import type { WindowStats } from "./window.js"

export interface AlertThresholds {
  /** p95 latency of successful requests on a node above which it alerts, ms. Default 30 000. */
  readonly highLatencyMs: number
  /** Success rate under which a node alerts. Default 0.9. */
  readonly lowSuccessRate: number
  /** Requests in the window before latency and success rate are judged. Default 5. */
  readonly minSamples: number
  /** Queue depth, as a share of its capacity, from which it alerts. Default 0.8. */
  readonly queueNearFull: number
}

export const defaultThresholds: AlertThresholds = {
  highLatencyMs: 30_000,
  lowSuccessRate: 0.9,
  minSamples: 5,
  queueNearFull: 0.8
}

export type AlertKind = "node.degraded" | "node.excluded" | "latency.high" | "success.low" | "queue.full"

export interface Alert {
  /** Stable identity (kind and subject), so a raise and its clear match. */
  readonly key: string
  readonly kind: AlertKind
  readonly severity: "warning" | "critical"
  readonly node: string | undefined
  readonly message: string
}

export interface AlertEvent extends Alert {
  /** True when raised, false when cleared. */
  readonly active: boolean
  readonly at: number
}

export interface AlertInput {
  readonly nodes: ReadonlyArray<{ readonly nodeId: string; readonly health: Health; readonly drained: boolean }>
  readonly byNode: Readonly<Record<string, WindowStats>>
  readonly queueDepth: number
  readonly queueCapacity: number
}

const alert = (kind: AlertKind, severity: Alert["severity"], node: string | undefined, message: string): Alert => ({
  key: node === undefined ? kind : `${kind}:${node}`,
  kind,
  severity,
  node,
  message
})

export const evaluateAlerts = (input: AlertInput, t: AlertThresholds = defaultThresholds): ReadonlyArray<Alert> => {
  const out: Array<Alert> = []
  for (const n of input.nodes) {
    if (n.health === "excluded") {
      out.push(alert("node.excluded", n.drained ? "warning" : "critical", n.nodeId,
        n.drained ? `${n.nodeId} is drained (excluded by an operator)` : `${n.nodeId} is excluded: not answering`))
    } else if (n.health === "degraded") {
      out.push(alert("node.degraded", "warning", n.nodeId, `${n.nodeId} is degraded: slow or erroring`))
    }
    const s = input.byNode[n.nodeId]
    if (s === undefined || s.requests < t.minSamples) continue
    if (s.successRate < t.lowSuccessRate) {
      out.push(alert("success.low", "critical", n.nodeId,
        `${n.nodeId} success rate ${(s.successRate * 100).toFixed(0)}% over ${s.requests} requests`))
    }
    if (s.p95Ms > t.highLatencyMs) {
      out.push(alert("latency.high", "warning", n.nodeId, `${n.nodeId} p95 latency ${(s.p95Ms / 1_000).toFixed(1)} s`))
    }
  }
  if (input.queueCapacity > 0 && input.queueDepth >= input.queueCapacity * t.queueNearFull) {
    out.push(alert("queue.full", "critical", undefined, `queue ${input.queueDepth}/${input.queueCapacity} near full`))
  }
  return out
}

/** Events for alerts that appeared (active) or went away (cleared) since `previous`. */
export const diffAlerts = (
  previous: ReadonlyMap<string, Alert>,
  current: ReadonlyArray<Alert>,
  at: number
): ReadonlyArray<AlertEvent> => {
  const now = new Map(current.map((a) => [a.key, a]))
  const events: Array<AlertEvent> = []
  for (const a of current) {
    const was = previous.get(a.key)
    if (was === undefined || was.message !== a.message && was.severity !== a.severity) {
      events.push({ ...a, active: true, at })
    }
  }
  for (const [key, a] of previous) if (!now.has(key)) events.push({ ...a, active: false, at })
  return events
}
