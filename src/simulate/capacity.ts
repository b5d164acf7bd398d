/**
 * How many requests per second a scenario can serve for a workload, computed from the sim profiles, so that
 * `--rate` can default to a fixed share of it (70 %) whatever the cluster.
 */
import { normalizeModel } from "../domain/Model.js"
import type { Fault } from "../sim/faults.js"
import { profiles } from "../sim/profiles.js"
import { countTokens, OUTPUT_TOKENS } from "../sim/rng.js"
import { scenarios } from "../sim/scenarios.js"
import type { ScenarioName } from "../sim/scenarios.js"
import type { Arrival } from "./workloads.js"


/** The prompt text the sim counts tokens of (chat contents joined; the template's own tokens are left out). */
export const promptOf = (body: Record<string, unknown>): string => {
  if (typeof body.prompt === "string") return body.prompt
  if (typeof body.input === "string") return body.input
  if (Array.isArray(body.messages)) {
    return body.messages.map((m: unknown) =>
      typeof m === "object" && m !== null && typeof (m as { content?: unknown }).content === "string"
        ? (m as { content: string }).content
        : ""
    ).join("")
  }
  return ""
}

/** The request's `num_predict` when it sets a positive one (the sim then generates exactly that many tokens). */
export const numPredictOf = (body: Record<string, unknown>): number | undefined => {
  const options = body.options
  const n = typeof options === "object" && options !== null ? (options as { num_predict?: unknown }).num_predict : undefined
  return typeof n === "number" && n > 0 ? n : undefined
}

/** `num_predict` when set, else the sim's mean output length. */
export const outputOf = (body: Record<string, unknown>): number => numPredictOf(body) ?? OUTPUT_TOKENS.mean

/**
 * The share of a node's capacity its fault leaves: a flapping node is up half the time, a slowed one serves
 * 1/factor, and one that refuses, fails, hangs or is always busy serves nothing. A truncated stream still took its slot.
 */
const availability = (fault: Fault | undefined): number => {
  switch (fault?.mode) {
    case undefined:
    case "none":
    case "truncate":
      return 1
    case "flap":
      return 0.5
    case "slow":
      return 1 / fault.factor
    default:
      return 0
  }
}

/**
 * Steady-state capacity in requests/s, with warm models and every slot busy:
 * 1. per node and request: service = prompt tokens / prefill rate + output tokens / (decode rate × slots^-0.25)
 *    (the sim's per-stream slowdown with all slots decoding); embeddings use one slot and prefill only;
 * 2. a node's capacity = slots / mean service time over the requests whose model it has installed;
 * 3. the cluster's capacity = the sum over nodes, each times its `availability` under the scenario's fault.
 * Prompt caches and cold loads are ignored (it is an estimate).
 */
export const capacityOf = (scenario: ScenarioName, arrivals: ReadonlyArray<Arrival>): number => {
  let total = 0
  for (const spec of scenarios[scenario].nodes) {
    const profile = profiles[spec.profile]
    const installed = new Set(spec.models.map(normalizeModel))
    let sum = 0
    let count = 0
    let slotsSum = 0
    for (const a of arrivals) {
      const model = profile.models[normalizeModel(String(a.body.model))]
      if (model === undefined || !installed.has(model.name)) continue
      const embedding = model.kind === "embedding"
      const slots = embedding ? 1 : profile.slots
      const prefill = countTokens(promptOf(a.body)) / model.prefillTps
      const decode = embedding ? 0 : outputOf(a.body) / (model.decodeTps * slots ** -0.25)
      sum += prefill + decode
      slotsSum += slots
      count++
    }
    if (count > 0 && sum > 0) total += (availability(spec.fault) * slotsSum) / count / (sum / count)
  }
  return total
}
