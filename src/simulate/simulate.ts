/** `simulate` as a library call: builds the workload once, runs each strategy on it, and summarises every run. */
import type { AppConfigInput } from "../AppConfig.js"
import { normalizeModel } from "../domain/Model.js"
import { scenarios } from "../sim/scenarios.js"
import type { ScenarioName } from "../sim/scenarios.js"
import { capacityOf } from "./capacity.js"
import { runStrategy } from "./harness.js"
import { idealQuantileMs } from "./ideal.js"
import { summarize } from "./report.js"
import type { Summary } from "./report.js"
import { makeArrivals } from "./workloads.js"
import type { WorkloadName } from "./workloads.js"

export interface SimulateOptions {
  readonly scenario: ScenarioName
  readonly strategies: ReadonlyArray<string>
  /** Default `mixed`. */
  readonly workload?: WorkloadName
  /** Default 2 000. */
  readonly requests?: number
  /** Arrivals per second. Default: `defaultLoad(workload)` × the computed capacity (`capacityOf`). */
  readonly rate?: number
  /** Default 1. */
  readonly seed?: number
  /** Extra gateway config for every run. */
  readonly config?: Partial<AppConfigInput>
  /**
   * Parallel slots configured on every node (as `nodes[].slots`); default: each node's are learned. A number far
   * above what the nodes run turns the gateway's queue off: requests go out at once and wait inside the nodes, as
   * behind a proxy with no connection limits (nginx's plain round-robin).
   */
  readonly slots?: number
}

export interface SimulateResult {
  readonly scenario: ScenarioName
  readonly workload: WorkloadName
  readonly requests: number
  readonly seed: number
  readonly rate: number
  /** Requests/s the cluster can serve (see `capacityOf`). */
  readonly capacity: number
  /** Expected p95 of ideal service time (each request alone on the fastest node, model loaded): see `ideal.ts`. */
  readonly idealP95Ms: number
  /** `options.slots`, when set. */
  readonly slots?: number
  readonly summaries: ReadonlyArray<Summary>
}

/** Offered load as a share of capacity: 70 %, except the priority workload, which overloads (130 %). */
export const defaultLoad = (workload: WorkloadName): number => workload === "priority" ? 1.3 : 0.7

export const simulate = (options: SimulateOptions): SimulateResult => {
  const workload = options.workload ?? "mixed"
  const requests = options.requests ?? 2_000
  const seed = options.seed ?? 1
  const models = [...new Set(scenarios[options.scenario].nodes.flatMap((n) => n.models.map(normalizeModel)))]
    .filter((m) => m !== "llama3.2:latest")
  // request bodies do not depend on the rate (one draw per gap either way), so capacity is computed on them first
  const shape = makeArrivals(workload, { requests, rate: 1, seed, models })
  const capacity = capacityOf(options.scenario, shape)
  const rate = options.rate ?? Number((defaultLoad(workload) * capacity).toFixed(2))
  const arrivals = makeArrivals(workload, { requests, rate, seed, models })
  const idealP95Ms = idealQuantileMs(options.scenario, arrivals, 0.95)
  const { slots } = options
  const configuredSlots = slots === undefined
    ? undefined
    : Object.fromEntries(scenarios[options.scenario].nodes.map((n) => [n.name, slots]))
  const summaries = options.strategies.map((strategy) => ({
    ...summarize(runStrategy({
      scenario: options.scenario,
      strategy,
      arrivals,
      seed,
      ...(options.config !== undefined ? { config: options.config } : {}),
      ...(configuredSlots !== undefined ? { slots: configuredSlots } : {})
    })),
    idealP95Ms
  }))
  return {
    scenario: options.scenario,
    workload,
    requests,
    seed,
    rate,
    capacity,
    idealP95Ms,
    ...(slots !== undefined ? { slots } : {}),
    summaries
  }
}
