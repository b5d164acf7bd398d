/**
 * The runtime, composed from config: registry (with the configured nodes), strategy, admission queue, learning
 * store, decision log and retry budget. The gateway and the embedded library run the very same layer.
 */
import { Duration, Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import * as NodeRegistry from "../actors/NodeRegistry.js"
import { defaultNodeMachineInput } from "../actors/nodeMachine.js"
import type { AppConfig, NodeConfig } from "../AppConfig.js"
import { NodeId, nodeIdFromUrl, normalizeBaseUrl } from "../domain/NodeId.js"
import type { Upstream } from "../domain/Upstream.js"
import { layerFromName, makeCatalog } from "../strategies/catalog.js"
import type { StrategyCatalog, UnknownStrategy } from "../strategies/catalog.js"
import type { SollolConfigInput } from "../strategies/sollol/index.js"
import * as Admission from "./Admission.js"
import * as DecisionLog from "./DecisionLog.js"
import { makeHttpUpstream } from "./httpUpstream.js"
import * as LearningStore from "./LearningStore.js"
import * as Reliability from "./Reliability.js"
import { makeRetryBudget } from "./retryPolicy.js"
import { timeoutTableOf } from "./timeouts.js"
import { RetryBudgetTag, WorkflowConfig } from "./workflow.js"
import type { WorkflowServices } from "./workflow.js"

/** Makes the transport for a node; the default speaks HTTP through undici. Tests and `simulate` swap it. */
export type UpstreamFactory = (nodeId: NodeId, url: string) => Effect.Effect<Upstream, never, Scope.Scope>

export interface RuntimeOptions {
  /** Extra strategies by name (a custom one is selected with `strategy: <name>`). */
  readonly strategies?: StrategyCatalog
  readonly upstreamFactory?: UpstreamFactory
}

export const nodeIdOf = (node: NodeConfig): NodeId => node.name !== undefined ? NodeId(node.name) : nodeIdFromUrl(node.url)

/** The built-ins (`sollol` the default, tuned by the config's `sollol` section) and the caller's own. */
export const catalogOf = (extra: StrategyCatalog = {}, sollol?: SollolConfigInput): StrategyCatalog =>
  makeCatalog(extra, sollol)

export const httpUpstreamFactory = (config: AppConfig): UpstreamFactory => (nodeId, url) =>
  makeHttpUpstream(nodeId, url, {
    connectTimeoutMs: config.timeouts.connectMs,
    firstByteTimeoutMs: config.timeouts.firstByteMs,
    idleTimeoutMs: config.timeouts.idleMs
  })

const registryLayer = (config: AppConfig) =>
  NodeRegistry.layer({
    livenessInterval: Duration.millis(config.health.probeIntervalMs),
    modelsInterval: Duration.millis(config.health.modelsIntervalMs),
    probeTimeout: Duration.millis(config.health.probeTimeoutMs),
    defaultSlots: config.routing.defaultSlots,
    removeDeadline: Duration.millis(config.limits.shutdownGraceMs),
    machine: {
      ...defaultNodeMachineInput,
      maxConsecutiveFailures: config.health.failureThreshold,
      baseCooldownMs: config.health.baseCooldownMs,
      maxCooldownMs: config.health.maxCooldownMs
    }
  })

/** Adds the configured nodes (concurrently; each after its first probe). A node that is down still joins. */
const addConfiguredNodes = (config: AppConfig, factory: UpstreamFactory) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const registry = yield* NodeRegistry.NodeRegistry
    yield* Effect.forEach(config.nodes, (node) => {
      const nodeId = nodeIdOf(node)
      const url = normalizeBaseUrl(node.url)
      return registry.add({
        nodeId,
        url,
        ...(node.slots !== undefined ? { slots: node.slots } : {}),
        makeUpstream: factory(nodeId, url)
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`node ${nodeId} not added: ${e.message}`)))
    }, { concurrency: "unbounded", discard: true })
  }))

/** Wakes waiting requests whenever the cluster changes (a node joins, recovers, or is drained). */
const wakeOnChanges = Layer.scopedDiscard(Effect.gen(function*() {
  const registry = yield* NodeRegistry.NodeRegistry
  const admission = yield* Admission.AdmissionTag
  yield* registry.changes.pipe(
    Stream.runForEach(() => admission.notify),
    Effect.forkScoped
  )
}))

/** Everything a request workflow needs, built from config. Fails to build on an unknown strategy name. */
export const layer = (config: AppConfig, options: RuntimeOptions = {}) => {
  const factory = options.upstreamFactory ?? httpUpstreamFactory(config)
  const strategy = layerFromName(config.strategy, catalogOf(options.strategies, config.sollol))
  const settings = Layer.succeed(WorkflowConfig, {
    maxAttempts: config.routing.maxAttempts,
    retryBackoffMs: config.routing.retryBackoffMs,
    includeRoutingInfo: config.routing.includeRoutingInfo,
    panicMode: config.routing.panicMode,
    timeouts: timeoutTableOf(config),
    hedging: config.routing.hedging,
    configuredSlots: new Set(config.nodes.filter((n) => n.slots !== undefined).map(nodeIdOf))
  })
  const budget = Layer.effect(
    RetryBudgetTag,
    makeRetryBudget({ ratio: config.routing.retryBudgetRatio, minPerSecond: config.routing.retryBudgetMinPerSecond })
  )
  const registry = registryLayer(config)
  const services = Layer.mergeAll(
    registry,
    strategy,
    Admission.layer(config.queue),
    LearningStore.layer(),
    DecisionLog.layer(),
    settings,
    budget,
    Reliability.layer({
      modelFailureThreshold: config.routing.modelFailureThreshold,
      modelCooldownMs: config.routing.modelCooldownMs,
      busyBackoffMs: config.routing.busyBackoffMs,
      minLatencySamples: config.routing.hedgeMinSamples
    })
  )
  const runtime: Layer.Layer<WorkflowServices, UnknownStrategy> = Layer.provideMerge(
    Layer.merge(addConfiguredNodes(config, factory), wakeOnChanges),
    services
  )
  return runtime
}
