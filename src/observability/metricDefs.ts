/**
 * Every SOLLOL metric, declared once against a given prom-client Registry (never the global one), so that several
 * gateways in one process keep separate series. Labels are bounded: route kind, model, node, status, priority.
 */
import { Counter, Gauge, Histogram } from "prom-client"
import type { Registry } from "prom-client"

/** Latency buckets in seconds: sub-100 ms proxy answers up to multi-minute cold loads. */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120]

export const declareMetrics = (registry: Registry) => {
  const registers = [registry]
  return {
    requests: new Counter({
      name: "sollol_requests_total",
      help: "Finished requests by route kind, model, node and HTTP status",
      labelNames: ["route", "model", "node", "status"] as const,
      registers
    }),
    duration: new Histogram({
      name: "sollol_request_duration_seconds",
      help: "Whole request duration, queue wait included",
      labelNames: ["route", "node"] as const,
      buckets: LATENCY_BUCKETS,
      registers
    }),
    ttft: new Histogram({
      name: "sollol_time_to_first_token_seconds",
      help: "Time from arrival to the first response byte sent to the client",
      labelNames: ["route", "node"] as const,
      buckets: LATENCY_BUCKETS,
      registers
    }),
    queueWait: new Histogram({
      name: "sollol_queue_wait_seconds",
      help: "Time a request waited for a slot, by priority (1-10)",
      labelNames: ["priority"] as const,
      buckets: WAIT_BUCKETS,
      registers
    }),
    retries: new Counter({
      name: "sollol_retries_total",
      help: "Attempts beyond the first, by route kind",
      labelNames: ["route"] as const,
      registers
    }),
    hedges: new Counter({
      name: "sollol_hedges_total",
      help: "Requests that sent a hedged second attempt, by route kind",
      labelNames: ["route"] as const,
      registers
    }),
    transitions: new Counter({
      name: "sollol_node_health_transitions_total",
      help: "Node health changes (breaker transitions) by node and new state",
      labelNames: ["node", "to"] as const,
      registers
    }),
    health: new Gauge({
      name: "sollol_node_health",
      help: "1 for the node's current health state, 0 for the others",
      labelNames: ["node", "state"] as const,
      registers
    }),
    inFlight: new Gauge({
      name: "sollol_in_flight",
      help: "Requests this gateway has in flight on a node",
      labelNames: ["node"] as const,
      registers
    }),
    slots: new Gauge({
      name: "sollol_node_slots",
      help: "Parallel slots of a node (configured or learned)",
      labelNames: ["node"] as const,
      registers
    }),
    ewma: new Gauge({
      name: "sollol_node_latency_ewma_seconds",
      help: "Peak-EWMA latency of a node",
      labelNames: ["node"] as const,
      registers
    }),
    queueDepth: new Gauge({ name: "sollol_queue_depth", help: "Requests waiting for a slot", registers }),
    queueWaiting: new Gauge({
      name: "sollol_queue_waiting",
      help: "Requests waiting for a slot, by priority",
      labelNames: ["priority"] as const,
      registers
    }),
    decodeRate: new Gauge({
      name: "sollol_tokens_per_second",
      help: "Learned decode rate (output tokens per second, one stream) per node and model",
      labelNames: ["node", "model"] as const,
      registers
    }),
    prefillRate: new Gauge({
      name: "sollol_prefill_tokens_per_second",
      help: "Learned prefill rate (prompt tokens per second) per node and model",
      labelNames: ["node", "model"] as const,
      registers
    }),
    successRate: new Gauge({
      name: "sollol_learned_success_ratio",
      help: "Learned (decayed) success rate per node and model",
      labelNames: ["node", "model"] as const,
      registers
    })
  }
}

export type SollolMetrics = ReturnType<typeof declareMetrics>

/** Health states exported by `sollol_node_health`. */
export const HEALTH_STATES = ["healthy", "degraded", "excluded", "recovering"] as const
