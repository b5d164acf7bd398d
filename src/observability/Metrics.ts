/**
 * Prometheus metrics for one gateway: a fresh prom-client Registry per instance (plus process metrics on it), fed
 * by the decision log's synchronous listener and the registry's health changes, with gauges refreshed at scrape.
 */
import { Context, Effect, Layer, Stream } from "effect"
import { collectDefaultMetrics, Registry } from "prom-client"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import { AdmissionTag } from "../runtime/Admission.js"
import { DecisionLog } from "../runtime/DecisionLog.js"
import type { DecisionRecord } from "../runtime/DecisionLog.js"
import { LearningStore } from "../runtime/LearningStore.js"
import { declareMetrics, HEALTH_STATES } from "./metricDefs.js"
import type { SollolMetrics } from "./metricDefs.js"

export interface MetricsOptions {
  /** Also export Node.js process metrics (`sollol_process_*`, `sollol_nodejs_*`). Default true. */
  readonly processMetrics?: boolean
}

export class Metrics extends Context.Tag("sollol/Metrics")<Metrics, {
  readonly registry: Registry
  /** Prometheus text exposition content type. */
  readonly contentType: string
  /** Refreshes the gauges from the registry, queue and learning store, then renders the text format. */
  readonly scrape: Effect.Effect<string>
}>() {}

/**
 * Counts one finished request. Model is only a label when a node served it, so unknown names stay out. Status is
 * the status the client got ("none" only for a request aborted before any answer).
 */
/**
 * Memoises a metric's labelled children by their values: prom-client hashes a label object on every call, which
 * per request cost more than the rest of the bookkeeping. The series never reset, so a child stays valid.
 */
const children = <L extends string, C>(child: (labels: Record<L, string>) => C, names: ReadonlyArray<L>) => {
  const byKey = new Map<string, C>()
  return (...values: ReadonlyArray<string>): C => {
    const key = values.join("\u0000")
    let found = byKey.get(key)
    if (found === undefined) {
      const labels = {} as Record<L, string>
      names.forEach((name, i) => labels[name] = values[i]!)
      found = child(labels)
      byKey.set(key, found)
    }
    return found
  }
}

/** The per-decision recorder: counts and observes each finished request once. */
export const decisionRecorder = (m: SollolMetrics) => {
  const requests = children((l) => m.requests.labels(l), ["route", "model", "node", "status"])
  const duration = children((l) => m.duration.labels(l), ["route", "node"])
  const ttft = children((l) => m.ttft.labels(l), ["route", "node"])
  const queueWait = children((l) => m.queueWait.labels(l), ["priority"])
  return (d: DecisionRecord): void => {
    const node = d.node ?? "none"
    const route = d.kind
    const status = d.status === 0 ? "none" : String(d.status)
    requests(route, d.node === null ? "unknown" : d.model, node, status).inc()
    // a refused request never waited nor ran: it would pull the latency and queue-wait quantiles toward 0
    if (d.outcome === "refused") return
    duration(route, node).observe(d.durationMs / 1_000)
    if (d.ttftMs !== undefined) ttft(route, node).observe(d.ttftMs / 1_000)
    queueWait(String(d.priority)).observe(d.queueWaitMs / 1_000)
    if (d.attempts > 1) m.retries.inc({ route }, d.attempts - 1)
    if (d.hedged) m.hedges.inc({ route })
  }
}

const refreshGauges = (m: SollolMetrics) =>
  Effect.gen(function*() {
    const nodes = yield* (yield* NodeRegistry).list
    const admission = yield* AdmissionTag
    const learned = yield* (yield* LearningStore).snapshot
    for (const g of [m.health, m.inFlight, m.slots, m.ewma, m.queueWaiting]) g.reset()
    for (const g of [m.decodeRate, m.prefillRate, m.successRate]) g.reset()
    for (const v of nodes) {
      for (const state of HEALTH_STATES) m.health.set({ node: v.nodeId, state }, v.health === state ? 1 : 0)
      m.inFlight.set({ node: v.nodeId }, v.inFlight)
      m.slots.set({ node: v.nodeId }, v.slots)
      m.ewma.set({ node: v.nodeId }, v.ewmaMs / 1_000)
    }
    m.queueDepth.set(yield* admission.depth)
    for (const s of yield* admission.stats) m.queueWaiting.set({ priority: String(s.priority) }, s.waiting)
    const known = new Set<string>(nodes.map((v) => v.nodeId))
    for (const e of learned.perf) {
      if (!known.has(e.nodeId)) continue
      const labels = { node: e.nodeId, model: e.model }
      if (e.decodeTps !== undefined) m.decodeRate.set(labels, e.decodeTps.value)
      if (e.prefillTps !== undefined) m.prefillRate.set(labels, e.prefillTps.value)
      m.successRate.set(labels, e.success.value)
    }
  })

export const make = (options: MetricsOptions = {}) =>
  Effect.gen(function*() {
    const registry = new Registry()
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "sollol_" })
    const m = declareMetrics(registry)
    const decisions = yield* DecisionLog
    const nodes = yield* NodeRegistry
    const stop = yield* decisions.listen(decisionRecorder(m))
    yield* Effect.addFinalizer(() => stop)
    yield* Stream.fromQueue(yield* nodes.subscribe).pipe(
      Stream.runForEach((e) =>
        Effect.sync(() => {
          if (e.type === "health.changed") m.transitions.inc({ node: e.nodeId, to: e.health })
        })
      ),
      Effect.forkScoped
    )
    const context = yield* Effect.context<NodeRegistry | AdmissionTag | LearningStore>()
    return Metrics.of({
      registry,
      contentType: registry.contentType,
      scrape: refreshGauges(m).pipe(
        Effect.provide(context),
        Effect.zipRight(Effect.promise(() => registry.metrics()))
      )
    })
  })

export const layer = (options: MetricsOptions = {}) => Layer.scoped(Metrics, make(options))
