/**
 * An honest floor for latency percentiles: every request alone on the fastest node that has its model, model loaded,
 * no queue and no contention. It is an expectation over the sim's output-length distribution, so a small run's drawn
 * lengths can beat it; on a large run no strategy gets below it by more than sampling noise, and a target below it
 * is out of reach on that workload.
 */
import { normalizeModel } from "../domain/Model.js"
import { profiles } from "../sim/profiles.js"
import { countTokens, OUTPUT_TOKENS } from "../sim/rng.js"
import { scenarios } from "../sim/scenarios.js"
import type { ScenarioName } from "../sim/scenarios.js"
import { numPredictOf, promptOf } from "./capacity.js"
import type { Arrival } from "./workloads.js"

/** erf by Abramowitz–Stegun 7.1.26 (absolute error < 1.5e-7). */
const erf = (x: number): number => {
  const sign = x < 0 ? -1 : 1
  const z = Math.abs(x)
  const t = 1 / (1 + 0.3275911 * z)
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
  return sign * (1 - poly * Math.exp(-z * z))
}

/** P(drawn output tokens ≤ n) for the sim's lognormal draw (rounding ignored; it moves the floor by < 1 token). */
export const outputCdf = (n: number): number => {
  const { mean, sigma, max } = OUTPUT_TOKENS
  if (n < 1) return 0
  if (n >= max) return 1
  const mu = Math.log(mean) - (sigma * sigma) / 2
  return 0.5 * (1 + erf((Math.log(n) - mu) / (sigma * Math.SQRT2)))
}

/** One request's ideal service: fixed `fixedMs` plus, unless its output is fixed, `msPerToken` per drawn token. */
interface Ideal {
  readonly fixedMs: number
  readonly msPerToken: number
  /** Output tokens when `num_predict` fixes them (or 0 for embeddings); undefined when the sim draws them. */
  readonly outputTokens: number | undefined
}

/** The fastest node for the request alone: the least prefill + expected decode time among nodes with its model. */
const idealOf = (scenario: ScenarioName, a: Arrival): Ideal | undefined => {
  const prompt = countTokens(promptOf(a.body))
  const fixed = numPredictOf(a.body)
  let best: Ideal | undefined
  let bestMs = Infinity
  for (const spec of scenarios[scenario].nodes) {
    const model = profiles[spec.profile].models[normalizeModel(String(a.body.model))]
    if (model === undefined || !spec.models.map(normalizeModel).includes(model.name)) continue
    const embedding = model.kind === "embedding"
    const ideal: Ideal = {
      fixedMs: (prompt / model.prefillTps) * 1000,
      msPerToken: embedding ? 0 : 1000 / model.decodeTps,
      outputTokens: embedding ? 0 : fixed
    }
    const ms = ideal.fixedMs + ideal.msPerToken * (ideal.outputTokens ?? OUTPUT_TOKENS.mean)
    if (ms < bestMs) {
      bestMs = ms
      best = ideal
    }
  }
  return best
}

/** P(the request's ideal service ≤ ms). */
const cdfAt = (i: Ideal, ms: number): number => {
  if (i.outputTokens !== undefined) return i.fixedMs + i.msPerToken * i.outputTokens <= ms ? 1 : 0
  return outputCdf((ms - i.fixedMs) / i.msPerToken)
}

/**
 * The `p` quantile (e.g. 0.95) of ideal service time over the arrivals, in ms: the x where the mixture's CDF
 * (mean over requests of P(service ≤ x); drawn output lengths by their exact distribution) reaches `p`, by
 * bisection to 0.1 ms. Requests whose model no node has are left out; 0 when none is left.
 */
export const idealQuantileMs = (scenario: ScenarioName, arrivals: ReadonlyArray<Arrival>, p: number): number => {
  const ideals = arrivals.flatMap((a) => {
    const i = idealOf(scenario, a)
    return i === undefined ? [] : [i]
  })
  if (ideals.length === 0) return 0
  const cdf = (ms: number) => ideals.reduce((sum, i) => sum + cdfAt(i, ms), 0) / ideals.length
  let lo = 0
  let hi = 1000
  while (cdf(hi) < p) hi *= 2
  while (hi - lo > 0.1) {
    const mid = (lo + hi) / 2
    if (cdf(mid) >= p) hi = mid
    else lo = mid
  }
  return hi
}
