/** `sollol simulate`: compares strategies on a simulated cluster in virtual time and prints the figures. */
import { parseArgs } from "node:util"
import { Either } from "effect"
import type { AppConfigInput } from "../AppConfig.js"
import { decodeAppConfig } from "../AppConfig.js"
import { isScenarioName, scenarios } from "../sim/scenarios.js"
import { formatSummaries } from "../simulate/report.js"
import { simulate } from "../simulate/simulate.js"
import { isWorkloadName, workloadNames } from "../simulate/workloads.js"
import { builtinStrategies } from "../strategies/catalog.js"
import { readConfigFile } from "./loadConfig.js"
import { argvMessage, decimal, help, reportStop, usageStop, wantsHelp } from "./usage.js"

export const simulateUsage = `usage: sollol simulate --scenario NAME [--strategy a,b,…] [--workload W] [--requests N] [--rate R] [--seed S] [--slots N] [--config FILE] [--json]
  --scenario  ${Object.keys(scenarios).join(" | ")}
  --strategy  comma-separated (default round-robin,least-loaded,p2c-ewma,sollol)
  --workload  ${workloadNames.join(" | ")} (default mixed)
  --requests  requests per strategy (default 2000)
  --rate      arrivals per second, Poisson (default 70 % of the computed capacity; 130 % for priority)
  --seed      seed of arrivals, nodes and strategies (default 1)
  --slots     parallel slots configured on every node (default: learned); a large value (1000) turns the gateway's
              queue off, so requests wait inside the nodes as behind a proxy without connection limits
  --config    a gateway config file (YAML or JSON) for every run, e.g. its \`sollol:\` weights; its nodes are ignored
  --json      print the figures as JSON
  -h, --help  print this help`

const simulateOptions = {
  scenario: { type: "string" },
  strategy: { type: "string" },
  workload: { type: "string" },
  requests: { type: "string" },
  rate: { type: "string" },
  seed: { type: "string" },
  slots: { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" }
} as const

export interface SimulateArgs {
  readonly scenario: keyof typeof scenarios
  readonly strategies: ReadonlyArray<string>
  readonly workload: (typeof workloadNames)[number]
  readonly requests: number
  readonly rate: number | undefined
  readonly seed: number
  /** `--slots`: configured on every node; undefined: learned. */
  readonly slots: number | undefined
  /** Settings from `--config`, validated; the scenario's nodes replace any it names. */
  readonly config: Partial<AppConfigInput> | undefined
  readonly json: boolean
}

/** The config file's settings, validated as `sollol serve` would (with a placeholder node when it names none). */
const readSimulateConfig = (path: string): Partial<AppConfigInput> | string => {
  const raw = readConfigFile(path)
  if (Either.isLeft(raw)) return raw.left
  const { nodes: _nodes, ...settings } = raw.right
  const checked = decodeAppConfig({ ...settings, nodes: [{ url: "http://127.0.0.1:11434" }] })
  return Either.isLeft(checked) ? `config file ${path}: ${checked.left}` : settings as Partial<AppConfigInput>
}

const positive = (s: string | undefined, name: string, integer: boolean): number | string | undefined => {
  if (s === undefined) return undefined
  const n = decimal(s)
  return Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)) ? n : `--${name} must be a positive ${integer ? "integer" : "number"}`
}

/** Parses the flags; a string is the error to print. */
export const parseSimulateArgs = (argv: ReadonlyArray<string>): SimulateArgs | string => {
  let values
  try {
    values = parseArgs({ args: [...argv], options: simulateOptions, strict: true, allowPositionals: false }).values
  } catch (e) {
    return argvMessage(e)
  }
  const scenario = values.scenario
  if (scenario === undefined || !isScenarioName(scenario)) return `--scenario must be one of ${Object.keys(scenarios).join(", ")}`
  const workload = values.workload ?? "mixed"
  if (!isWorkloadName(workload)) return `--workload must be one of ${workloadNames.join(", ")}`
  const strategies = (values.strategy ?? "round-robin,least-loaded,p2c-ewma,sollol").split(",").map((s) => s.trim())
  const unknown = strategies.filter((s) => !(s in builtinStrategies))
  if (unknown.length > 0 || strategies.length === 0) {
    return `unknown strategy ${unknown.join(", ")}; known: ${Object.keys(builtinStrategies).join(", ")}`
  }
  const requests = positive(values.requests, "requests", true)
  const rate = positive(values.rate, "rate", false)
  const seed = values.seed === undefined ? 1 : decimal(values.seed)
  const slots = positive(values.slots, "slots", true)
  if (typeof requests === "string") return requests
  if (typeof rate === "string") return rate
  if (typeof slots === "string") return slots
  if (!Number.isInteger(seed)) return "--seed must be an integer"
  const config = values.config === undefined ? undefined : readSimulateConfig(values.config)
  if (typeof config === "string") return config
  return { scenario, strategies, workload, requests: requests ?? 2_000, rate, seed, slots, config, json: values.json === true }
}

/** Resolves to the exit code: 0 (also for `--help`), 2 for bad flags. */
export const simulateMain = async (argv: ReadonlyArray<string>): Promise<number> => {
  if (wantsHelp(argv, simulateOptions)) return reportStop("simulate", simulateUsage, help)
  const args = parseSimulateArgs(argv)
  if (typeof args === "string") return reportStop("simulate", simulateUsage, usageStop(args))
  const result = simulate({
    scenario: args.scenario,
    strategies: args.strategies,
    workload: args.workload,
    requests: args.requests,
    seed: args.seed,
    ...(args.rate !== undefined ? { rate: args.rate } : {}),
    ...(args.slots !== undefined ? { slots: args.slots } : {}),
    ...(args.config !== undefined ? { config: args.config } : {})
  })
  if (args.json) {
    console.log(JSON.stringify(result, null, 2))
    return 0
  }
  const header = `scenario ${result.scenario}, workload ${result.workload}: ${result.requests} requests at ${result.rate} req/s ` +
    `(capacity ≈ ${result.capacity.toFixed(2)} req/s, ${((result.rate / result.capacity) * 100).toFixed(0)} %), seed ${result.seed}` +
    `${result.slots !== undefined ? `, ${result.slots} slots configured per node` : ""}, virtual time`
  console.log(formatSummaries(header, result.summaries, result.workload === "priority"))
  return 0
}
