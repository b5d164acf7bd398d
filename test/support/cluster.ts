/**
 * A real gateway over real (simulated) HTTP nodes on ephemeral loopback ports, for end-to-end tests.
 * `startCluster` returns plain promises so tests can use the ollama and openai clients directly.
 */
import { Effect, Exit, Scope } from "effect"
import { makeAppConfig } from "../../src/AppConfig.js"
import type { AppConfigInput } from "../../src/AppConfig.js"
import { makeGateway } from "../../src/http/makeGateway.js"
import type { Gateway, GatewayStartOptions } from "../../src/http/makeGateway.js"
import { startScenario } from "../../src/sim/scenarios.js"
import type { ScenarioName, ScenarioNodeSpec } from "../../src/sim/scenarios.js"
import type { SimNode } from "../../src/sim/SimNode.js"

export interface Cluster {
  readonly url: string
  readonly gateway: Gateway
  readonly nodes: ReadonlyArray<{ readonly spec: ScenarioNodeSpec; readonly node: SimNode; readonly url: string }>
  /** Node by scenario name (e.g. "fast-gpu"). */
  readonly node: (name: string) => SimNode
  readonly close: () => Promise<void>
}

export interface ClusterOptions {
  readonly scenario?: ScenarioName
  /** Sim time scale; default 50 (a 1 s simulated generation takes 20 ms). */
  readonly timeScale?: number
  readonly seed?: number
  /** Extra gateway config (merged over test defaults: ephemeral port, :memory: db, fast probes). */
  readonly config?: Partial<AppConfigInput> & Record<string, unknown>
  readonly gateway?: GatewayStartOptions
}

export const startCluster = async (options: ClusterOptions = {}): Promise<Cluster> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const nodes = await Effect.runPromise(
      Scope.extend(startScenario(options.scenario ?? "hetero3", { timeScale: options.timeScale ?? 50, seed: options.seed ?? 1 }), scope)
    )
    const config = makeAppConfig({
      port: 0,
      database: ":memory:",
      logLevel: "none",
      nodes: nodes.map((n) => ({ url: n.url, name: n.spec.name })),
      ...options.config,
      health: { probeIntervalMs: 200, modelsIntervalMs: 1_000, baseCooldownMs: 500, ...(options.config?.health as object) },
      routing: { retryBackoffMs: 1, ...(options.config?.routing as object) }
    } as AppConfigInput)
    const gateway = await Effect.runPromise(Scope.extend(makeGateway(config, { port: 0, ...options.gateway }), scope))
    return {
      url: gateway.url,
      gateway,
      nodes,
      node: (name) => {
        const found = nodes.find((n) => n.spec.name === name)
        if (found === undefined) throw new Error(`no node ${name}`)
        return found.node
      },
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
}
