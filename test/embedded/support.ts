/** In-process simulated nodes for createSollol tests: a scenario's nodes behind `simUpstream`, no sockets. */
import { Effect, Exit, Scope } from "effect"
import { afterEach } from "vitest"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol, SollolConfig } from "../../src/embedded/createSollol.js"
import type { UpstreamFactory } from "../../src/runtime/Sollol.js"
import { makeScenarioNodes, scenarios } from "../../src/sim/scenarios.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import type { ScenarioName } from "../../src/sim/scenarios.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import type { SimNode } from "../../src/sim/SimNode.js"

export interface SimCluster {
  readonly nodes: ReadonlyArray<{ readonly url: string; readonly name: string }>
  readonly upstreamFactory: UpstreamFactory
  readonly node: (name: string) => SimNode
  readonly close: () => Promise<void>
}

/** `extraModels` are installed and loaded on every node besides the scenario's own. */
export const simCluster = async (
  scenario: ScenarioName,
  timeScale: number,
  extraModels: ReadonlyArray<string> = []
): Promise<SimCluster> => {
  const scope = Effect.runSync(Scope.make())
  const make = extraModels.length === 0
    ? makeScenarioNodes(scenario, { timeScale, seed: 7 })
    : Effect.forEach(scenarios[scenario].nodes, (spec, i) =>
      Effect.map(
        makeSimNode({
          name: spec.name,
          profile: spec.profile,
          models: [...spec.models, ...extraModels],
          preload: [...(spec.preload ?? []), ...extraModels],
          seed: 7 + i,
          timeScale
        }),
        (node) => ({ spec, node })
      ))
  const nodes = await Effect.runPromise(Scope.extend(make, scope))
  const byName = new Map(nodes.map(({ node, spec }) => [spec.name, node]))
  const node = (name: string) => {
    const found = byName.get(name)
    if (found === undefined) throw new Error(`no sim node ${name}`)
    return found
  }
  return {
    nodes: nodes.map(({ spec }) => ({ url: `http://${spec.name}.sim:11434`, name: spec.name })),
    upstreamFactory: (nodeId) => Effect.succeed(simUpstream(node(nodeId), nodeId)),
    node,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** A short chat for `llama3.2:3b` asking for exactly `numPredict` tokens. */
export const askChat = (numPredict: number) => ({
  model: "llama3.2:3b",
  messages: [{ role: "user" as const, content: "Tell me" }],
  options: { num_predict: numPredict }
})

/**
 * Call once at the top of a test file: `start` builds a createSollol over a fresh hetero3 simulation, and both are
 * closed after each test. `config` may be derived from the cluster (e.g. to wrap its upstreams).
 */
export const embeddedPerTest = () => {
  let sim: SimCluster | undefined
  let sollol: Sollol | undefined
  afterEach(async () => {
    await sollol?.close({ graceMs: 0 })
    await sim?.close()
    sollol = sim = undefined
  })
  return async (
    timeScale: number,
    config: Partial<SollolConfig> | ((cluster: SimCluster) => Partial<SollolConfig>) = {}
  ): Promise<{ sim: SimCluster; sollol: Sollol }> => {
    const cluster = sim = await simCluster("hetero3", timeScale)
    const extra = typeof config === "function" ? config(cluster) : config
    const made = sollol = await createSollol({
      nodes: cluster.nodes,
      upstreamFactory: cluster.upstreamFactory,
      database: ":memory:",
      logLevel: "none",
      ...extra
    })
    return { sim: cluster, sollol: made }
  }
}
