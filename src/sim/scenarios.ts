/** Named clusters of simulated nodes, served over HTTP (demo, manual tries) or kept in process (`sollol simulate`). */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { Fault } from "./faults.js"
import { serveSimNode } from "./httpServer.js"
import type { ProfileName } from "./profiles.js"
import { makeSimNode } from "./SimNode.js"
import type { SimNode } from "./SimNode.js"

export interface ScenarioNodeSpec {
  readonly name: string
  readonly profile: ProfileName
  readonly models: ReadonlyArray<string>
  readonly preload?: ReadonlyArray<string>
  readonly fault?: Fault
}

export interface Scenario {
  readonly description: string
  readonly nodes: ReadonlyArray<ScenarioNodeSpec>
}

export type ScenarioName = "homogeneous3" | "hetero3" | "modelsplit" | "flaky"

const chatAndEmbed = ["llama3.2:3b", "llama3.2", "qwen2.5:7b", "mistral:7b", "nomic-embed-text"]

export const scenarios: Readonly<Record<ScenarioName, Scenario>> = {
  homogeneous3: {
    description: "three identical consumer GPUs with the same models, llama3.2:3b warm",
    nodes: ["gpu-a", "gpu-b", "gpu-c"].map((name) => ({ name, profile: "gpu-consumer", models: chatAndEmbed, preload: ["llama3.2:3b"] }))
  },
  hetero3: {
    description: "a datacenter GPU, a consumer GPU and a CPU box with the same models, llama3.2:3b warm everywhere",
    nodes: [
      { name: "fast-gpu", profile: "gpu-datacenter", models: chatAndEmbed, preload: ["llama3.2:3b"] },
      { name: "mid-gpu", profile: "gpu-consumer", models: chatAndEmbed, preload: ["llama3.2:3b"] },
      { name: "cpu", profile: "cpu", models: chatAndEmbed, preload: ["llama3.2:3b"] }
    ]
  },
  modelsplit: {
    description: "different models on different nodes: llama3.2 on one GPU, qwen2.5/mistral on another, embeddings on a CPU",
    nodes: [
      { name: "llama-gpu", profile: "gpu-consumer", models: ["llama3.2:3b", "llama3.2"], preload: ["llama3.2:3b"] },
      { name: "qwen-gpu", profile: "gpu-consumer", models: ["qwen2.5:7b", "mistral:7b"], preload: ["qwen2.5:7b"] },
      { name: "embed-cpu", profile: "cpu", models: ["nomic-embed-text", "all-minilm"], preload: ["nomic-embed-text"] }
    ]
  },
  flaky: {
    description: "three consumer GPUs; gpu-c flaps down and up every 5 s of simulated time",
    nodes: [
      { name: "gpu-a", profile: "gpu-consumer", models: chatAndEmbed, preload: ["llama3.2:3b"] },
      { name: "gpu-b", profile: "gpu-consumer", models: chatAndEmbed, preload: ["llama3.2:3b"] },
      { name: "gpu-c", profile: "gpu-consumer", models: chatAndEmbed, preload: ["llama3.2:3b"], fault: { mode: "flap", periodMs: 5000 } }
    ]
  }
}

export const isScenarioName = (s: string): s is ScenarioName => s in scenarios

export interface ScenarioOptions {
  /** Divides simulated waits; default 1. */
  readonly timeScale?: number
  /** Base seed; node i uses seed + i. Default 1. */
  readonly seed?: number
}

/** The scenario's nodes in process, for `simUpstream` and virtual-time runs. */
export const makeScenarioNodes = (name: ScenarioName, options: ScenarioOptions = {}) =>
  Effect.forEach(scenarios[name].nodes, (spec, i) =>
    Effect.map(
      makeSimNode({
        name: spec.name,
        profile: spec.profile,
        models: spec.models,
        seed: (options.seed ?? 1) + i,
        timeScale: options.timeScale ?? 1,
        ...(spec.preload !== undefined ? { preload: spec.preload } : {}),
        ...(spec.fault !== undefined ? { fault: spec.fault } : {})
      }),
      (node) => ({ spec, node })
    ))

/** Serves every node of the scenario over HTTP; `basePort` 0 (default) gives ephemeral ports, else node i gets basePort + i. */
export const startScenario = (
  name: ScenarioName,
  options: ScenarioOptions & { readonly host?: string; readonly basePort?: number } = {}
): Effect.Effect<
  ReadonlyArray<{ readonly spec: ScenarioNodeSpec; readonly node: SimNode; readonly url: string }>,
  NodeJS.ErrnoException,
  Scope.Scope
> =>
  Effect.flatMap(makeScenarioNodes(name, options), (nodes) =>
    Effect.forEach(nodes, ({ node, spec }, i) =>
      Effect.map(
        serveSimNode(node, { host: options.host ?? "127.0.0.1", port: options.basePort ? options.basePort + i : 0 }),
        ({ url }) => ({ spec, node, url })
      )))
