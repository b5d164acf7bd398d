/**
 * The live view behind the dashboard and alerts: every second (and on each health change) it summarises the last
 * minute per node, the queue and learned token rates, evaluates the alert rules, and publishes `summary` and
 * `alert` events that the control plane merges into `/api/sollol/events`.
 */
import { Clock, Context, Effect, Layer, PubSub, Ref, Schedule, Stream } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import { AdmissionTag } from "../runtime/Admission.js"
import { DecisionLog } from "../runtime/DecisionLog.js"
import { LearningStore } from "../runtime/LearningStore.js"
import { defaultThresholds, diffAlerts, evaluateAlerts } from "./alerts.js"
import type { Alert, AlertEvent, AlertThresholds } from "./alerts.js"
import { makeRequestWindow } from "./window.js"
import type { WindowStats } from "./window.js"

export interface LiveStatsOptions {
  /** Queue capacity (config `queue.maxSize`), for the queue-near-full alert. Default 1 000. */
  readonly queueCapacity?: number
  /** Rolling window, ms. Default 60 000. */
  readonly windowMs?: number
  /** Period of summaries and alert evaluation, ms. Default 1 000. */
  readonly intervalMs?: number
  /** Alert thresholds. Default `defaultThresholds`. */
  readonly thresholds?: Partial<AlertThresholds>
}

export interface NodeSummary extends WindowStats {
  /** Mean learned decode rate over the node's models; undefined before any was learned. */
  readonly tokensPerSecond: number | undefined
}

export interface Summary {
  readonly at: number
  readonly windowMs: number
  readonly all: WindowStats
  readonly nodes: Readonly<Record<string, NodeSummary>>
  readonly queue: {
    readonly depth: number
    readonly capacity: number
    readonly byPriority: ReadonlyArray<{ readonly priority: number; readonly waiting: number }>
  }
}

export type LiveEvent =
  | { readonly event: "summary"; readonly data: Summary }
  | { readonly event: "alert"; readonly data: AlertEvent }

export class LiveStats extends Context.Tag("sollol/LiveStats")<LiveStats, {
  /** Computes a summary and re-evaluates alerts now (publishing what changed). */
  readonly refresh: Effect.Effect<Summary>
  readonly activeAlerts: Effect.Effect<ReadonlyArray<Alert>>
  /** The active alerts and the latest summary first, then every new event (sliding: slow readers lose old ones). */
  readonly events: Stream.Stream<LiveEvent>
}>() {}

export const make = (options: LiveStatsOptions = {}) =>
  Effect.gen(function*() {
    const windowMs = options.windowMs ?? 60_000
    const capacity = options.queueCapacity ?? 1_000
    const thresholds = { ...defaultThresholds, ...options.thresholds }
    const registry = yield* NodeRegistry
    const admission = yield* AdmissionTag
    const learning = yield* LearningStore
    const decisions = yield* DecisionLog
    const window = makeRequestWindow(windowMs)
    const stop = yield* decisions.listen(window.add)
    yield* Effect.addFinalizer(() => stop)
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<LiveEvent>(512), PubSub.shutdown)
    const active = yield* Ref.make<ReadonlyMap<string, Alert>>(new Map())
    const latest = yield* Ref.make<Summary | undefined>(undefined)
    const lock = yield* Effect.makeSemaphore(1)

    const refresh = lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const nodes = yield* registry.list
      const learned = yield* learning.snapshot
      const { all, byNode } = window.stats(now)
      const depth = yield* admission.depth
      const summary: Summary = {
        at: now,
        windowMs,
        all,
        nodes: Object.fromEntries(nodes.map((v) => {
          const rates = learned.perf.flatMap((e) => e.nodeId === v.nodeId && e.decodeTps ? [e.decodeTps.value] : [])
          const stats = byNode[v.nodeId] ?? { requests: 0, successRate: 1, p50Ms: 0, p95Ms: 0, rps: 0 }
          const tokensPerSecond = rates.length === 0 ? undefined : rates.reduce((a, b) => a + b, 0) / rates.length
          return [v.nodeId, { ...stats, tokensPerSecond }]
        })),
        queue: {
          depth,
          capacity,
          byPriority: (yield* admission.stats).map((s) => ({ priority: s.priority, waiting: s.waiting }))
        }
      }
      const current = evaluateAlerts({ nodes, byNode, queueDepth: depth, queueCapacity: capacity }, thresholds)
      const changed = diffAlerts(yield* Ref.get(active), current, now)
      yield* Ref.set(active, new Map(current.map((a) => [a.key, a])))
      yield* Ref.set(latest, summary)
      yield* PubSub.publishAll(pubsub, changed.map((data): LiveEvent => ({ event: "alert", data })))
      yield* PubSub.publish(pubsub, { event: "summary", data: summary })
      return summary
    }))

    yield* refresh.pipe(Effect.repeat(Schedule.spaced(options.intervalMs ?? 1_000)), Effect.forkScoped)
    yield* Stream.fromQueue(yield* registry.subscribe).pipe(
      Stream.filter((e) => e.type === "health.changed"),
      Stream.runForEach(() => refresh),
      Effect.forkScoped
    )

    const events = Stream.unwrapScoped(Effect.gen(function*() {
      const queue = yield* PubSub.subscribe(pubsub)
      const now = yield* Clock.currentTimeMillis
      const alerts = [...(yield* Ref.get(active)).values()].map((a): LiveEvent => ({
        event: "alert",
        data: { ...a, active: true, at: now }
      }))
      const summary = yield* Ref.get(latest)
      const first = summary === undefined ? alerts : [...alerts, { event: "summary", data: summary } as LiveEvent]
      return Stream.concat(Stream.fromIterable(first), Stream.fromQueue(queue))
    }))

    return LiveStats.of({
      refresh,
      activeAlerts: Effect.map(Ref.get(active), (m) => [...m.values()]),
      events
    })
  })

export const layer = (options: LiveStatsOptions = {}) => Layer.scoped(LiveStats, make(options))
