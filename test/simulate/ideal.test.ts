import { describe, expect, it } from "vitest"
import { idealQuantileMs, outputCdf } from "../../src/simulate/ideal.js"
import type { Arrival } from "../../src/simulate/workloads.js"
import { makeArrivals } from "../../src/simulate/workloads.js"

const generate = (index: number, prompt: string, numPredict?: number): Arrival => ({
  index,
  atMs: index,
  kind: "generate",
  path: "/api/generate",
  priority: 5,
  body: { model: "llama3.2:3b", prompt, ...(numPredict !== undefined ? { options: { num_predict: numPredict } } : {}) }
})

describe("ideal service time (the floor for latency percentiles)", () => {
  it("uses the fastest node's rates for fixed-length requests", () => {
    // hetero3's fastest node for llama3.2:3b: 20 000 prompt tok/s, 300 output tok/s
    const arrivals = Array.from({ length: 100 }, (_, i) => generate(i, "x".repeat(4000), i < 90 ? 30 : 300))
    // 1 000 prompt tokens = 50 ms; 30 tokens = 100 ms, 300 tokens = 1 000 ms; the 95th of 100 is a long one
    expect(idealQuantileMs("hetero3", arrivals, 0.95)).toBeCloseTo(1050, 0)
    expect(idealQuantileMs("hetero3", arrivals, 0.5)).toBeCloseTo(150, 0)
  })

  it("takes drawn output lengths by the sim's lognormal distribution", () => {
    expect(outputCdf(0)).toBe(0)
    expect(outputCdf(2000)).toBe(1)
    // the median of a lognormal with mean 120 and σ 0.6 is 120·e^(−0.18) ≈ 100
    expect(outputCdf(100.2)).toBeCloseTo(0.5, 2)
    const arrivals = Array.from({ length: 50 }, (_, i) => generate(i, "hi"))
    // all alike: the mixture's p95 is the output p95 (e^(ln 100.2 + 1.645·0.6) ≈ 269 tokens) at 300 tok/s
    expect(idealQuantileMs("hetero3", arrivals, 0.95)).toBeGreaterThan(890)
    expect(idealQuantileMs("hetero3", arrivals, 0.95)).toBeLessThan(905)
  })

  it("is below every strategy's p95 on the mixed workload, and grows on a slower cluster", () => {
    const arrivals = makeArrivals("mixed", { requests: 400, rate: 5, seed: 1, models: ["llama3.2:3b"] })
    const hetero = idealQuantileMs("hetero3", arrivals, 0.95)
    expect(hetero).toBeGreaterThan(600)
    expect(hetero).toBeLessThan(1000)
    expect(idealQuantileMs("homogeneous3", arrivals, 0.95)).toBeGreaterThan(2 * hetero)
  })
})
