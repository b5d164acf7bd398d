/**
 * The `sollol` package: the embedded runtime (`createSollol`), the gateway SDK (`connect`), the strategy framework,
 * the Effect layers for Effect users, and the cluster simulator for testing strategies.
 */
export { createSollol, embedExtra } from "./embedded/createSollol.js"
export type { Sollol, SollolConfig } from "./embedded/createSollol.js"
export { connect } from "./client/connect.js"
export type { ConnectOptions } from "./client/connect.js"
export { SollolError } from "./client/SollolError.js"
export type * from "./client/types.js"

// Config: the same schema as the server.
export { AppConfigSchema, AppConfigTag, decodeAppConfig, makeAppConfig, NodeConfig } from "./AppConfig.js"
export type { AppConfig, AppConfigInput } from "./AppConfig.js"

// Effect layers and services.
export { layer as SollolLive, catalogOf, httpUpstreamFactory } from "./runtime/Sollol.js"
export type { RuntimeOptions, UpstreamFactory } from "./runtime/Sollol.js"
export { handle } from "./runtime/workflow.js"
export type { WorkflowServices } from "./runtime/workflow.js"
export { makeIntent } from "./runtime/intent.js"
export { batchEmbed } from "./runtime/batchEmbed.js"
export type { BatchEmbedOptions, BatchEmbedResult } from "./runtime/batchEmbed.js"
export type { ClientSink } from "./runtime/ClientSink.js"
export { NodeRegistry } from "./actors/NodeRegistry.js"
export { LearningStore } from "./runtime/LearningStore.js"
export { DecisionLog } from "./runtime/DecisionLog.js"
export type { DecisionRecord } from "./runtime/DecisionLog.js"

// Strategies.
export { Strategy, synchronous } from "./strategies/Strategy.js"
export type { ChooseNow } from "./strategies/Strategy.js"
export { fromFunction } from "./strategies/fromFunction.js"
export type { ChooseFunction } from "./strategies/fromFunction.js"
export { builtinStrategies, layerFromName, makeCatalog, UnknownStrategy } from "./strategies/catalog.js"
export type { StrategyCatalog } from "./strategies/catalog.js"
export { layerRoundRobin } from "./strategies/roundRobin.js"
export { layerRandom } from "./strategies/random.js"
export { layerLeastLoaded } from "./strategies/leastLoaded.js"
export { layerP2cEwma } from "./strategies/p2cEwma.js"
export { layerSollol } from "./strategies/sollol/index.js"

// Domain types a strategy sees.
export type { Candidate, NodeModelPerf } from "./domain/Candidate.js"
export type { Pick } from "./domain/Decision.js"
export type { RoutingIntent, RequestKind, TaskType } from "./domain/Request.js"
export { NodeId } from "./domain/NodeId.js"

// The simulator.
export { makeSimNode } from "./sim/SimNode.js"
export type { SimNode, SimNodeOptions } from "./sim/SimNode.js"
export { serveSimNode } from "./sim/httpServer.js"
export { simUpstream } from "./sim/inProcess.js"
export { makeScenarioNodes, scenarios, startScenario } from "./sim/scenarios.js"
export type { ScenarioName } from "./sim/scenarios.js"
export type { Fault } from "./sim/faults.js"
