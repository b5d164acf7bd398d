/** In-process simulated nodes for createSollol tests: a scenario's nodes behind `simUpstream`, no sockets. */
import { Effect, Exit, Scope } from "effect"
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
