/**
 * What the workflow remembers about failures below the node level: per-(node, model) breakers (a model that
 * cannot load on a node must not eject the node for other models), a short back-off from nodes that answered
 * "server busy", and per-(model, kind) latency quantiles for hedging. The node machines judge whole nodes.
 */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { NodeId } from "../domain/NodeId.js"
import { makeLatencyWindow } from "./latency.js"

export interface ReliabilityConfig {
  /** Consecutive "cannot load this model here" failures that exclude a node for that model. Default 2. */
  readonly modelFailureThreshold: number
  /** How long a (node, model) stays excluded once its breaker opens, ms; doubles per re-opening up to 8×. Default 60 000. */
  readonly modelCooldownMs: number
  /** How long a node that answered 503 "server busy" counts as saturated, ms. Default 1 000. */
  readonly busyBackoffMs: number
  /** Latency samples kept per (model, kind). Default 200. */
  readonly latencyWindow: number
  /** Samples needed before a quantile is trusted (hedging waits for them). Default 20. */
  readonly minLatencySamples: number
}

export const defaultReliabilityConfig: ReliabilityConfig = {
  modelFailureThreshold: 2,
  modelCooldownMs: 60_000,
  busyBackoffMs: 1_000,
  latencyWindow: 200,
  minLatencySamples: 20
}

/** Ollama's texts for a model that does not fit or cannot start on a node (the node itself is fine). */
const MODEL_LOAD_FAILURE = /out of memory|requires more system memory|model requires more|unable to load model|cudaMalloc failed|insufficient memory/i

export const isModelLoadFailure = (text: string | undefined): boolean =>
  text !== undefined && MODEL_LOAD_FAILURE.test(text)

/** Ollama answers 503 "server busy" when its queue is full (OLLAMA_MAX_QUEUE): load, not failure. */
export const isServerBusy = (status: number): boolean => status === 503

interface Breaker {
  failures: number
  openings: number
  openUntil: number
}

export interface ReliabilityService {
  readonly config: ReliabilityConfig
  /** True while the (node, model) breaker is open at `now`. */
  readonly modelBlocked: (nodeId: NodeId, model: string, now: number) => boolean
  /** Counts one model-load failure; returns the cooldown in ms when this failure opened the breaker. */
  readonly modelFailed: (nodeId: NodeId, model: string, now: number) => number | undefined
  readonly modelSucceeded: (nodeId: NodeId, model: string) => void
  /** True while the node backs off after a "server busy". */
  readonly busy: (nodeId: NodeId, now: number) => boolean
  /** Ms until the node's back-off after "server busy" ends (0: none). */
  readonly busyFor: (nodeId: NodeId, now: number) => number
  readonly markBusy: (nodeId: NodeId, now: number) => void
  readonly recordLatency: (key: string, ms: number) => void
  /** The `q` quantile of recent latencies for `key`, or undefined with fewer than `minLatencySamples`. */
  readonly quantile: (key: string, q: number) => number | undefined
  /** Runs `effect` after `ms` in the service's scope (wakes waiters when a back-off or cooldown ends). */
  readonly after: (ms: number, effect: Effect.Effect<void>) => Effect.Effect<void>
}

export class Reliability extends Context.Tag("sollol/Reliability")<Reliability, ReliabilityService>() {}

export const make = (
  options: Partial<ReliabilityConfig> = {}
): Effect.Effect<ReliabilityService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = { ...defaultReliabilityConfig, ...options }
    const scope = yield* Effect.scope
    // Owned by this service instance; read and changed synchronously by the workflow's steps.
    const breakers = new Map<string, Breaker>()
    const busyUntil = new Map<NodeId, number>()
    const latencies = new Map<string, ReturnType<typeof makeLatencyWindow>>()
    const keyOf = (nodeId: NodeId, model: string) => `${nodeId}\u0000${model}`
    return {
      config,
      modelBlocked: (nodeId, model, now) => (breakers.get(keyOf(nodeId, model))?.openUntil ?? 0) > now,
      modelFailed: (nodeId, model, now) => {
        const key = keyOf(nodeId, model)
        const b = breakers.get(key) ?? { failures: 0, openings: 0, openUntil: 0 }
        breakers.set(key, b)
        b.failures += 1
        if (b.failures < config.modelFailureThreshold) return undefined
        const cooldown = config.modelCooldownMs * Math.min(8, 2 ** b.openings)
        b.failures = 0
        b.openings += 1
        b.openUntil = now + cooldown
        return cooldown
      },
      modelSucceeded: (nodeId, model) => void breakers.delete(keyOf(nodeId, model)),
      busy: (nodeId, now) => (busyUntil.get(nodeId) ?? 0) > now,
      busyFor: (nodeId, now) => Math.max(0, (busyUntil.get(nodeId) ?? 0) - now),
      markBusy: (nodeId, now) => void busyUntil.set(nodeId, now + config.busyBackoffMs),
      recordLatency: (key, ms) => {
        let window = latencies.get(key)
        if (window === undefined) latencies.set(key, window = makeLatencyWindow(config.latencyWindow))
        window.add(ms)
      },
      quantile: (key, q) => {
        const window = latencies.get(key)
        return window === undefined || window.size() < config.minLatencySamples ? undefined : window.quantile(q)
      },
      after: (ms, effect) => Effect.asVoid(Effect.forkIn(Effect.zipRight(Effect.sleep(ms), effect), scope))
    } satisfies ReliabilityService
  })

export const layer = (options: Partial<ReliabilityConfig> = {}): Layer.Layer<Reliability> =>
  Layer.scoped(Reliability, make(options))
