import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseSimulateArgs } from "../../src/cli/simulate.js"
import { capacityOf } from "../../src/simulate/capacity.js"
import { formatSummaries, percentile, summarize } from "../../src/simulate/report.js"
import { runStrategy } from "../../src/simulate/harness.js"
import { simulate } from "../../src/simulate/simulate.js"
import { makeArrivals } from "../../src/simulate/workloads.js"

const models = ["llama3.2:3b", "qwen2.5:7b", "nomic-embed-text"]

describe("simulate (virtual time, fixed seed)", () => {
  it("routes hetero3 at 70 % of capacity faster with sollol than round-robin", () => {
    const result = simulate({ scenario: "hetero3", strategies: ["round-robin", "sollol"], requests: 150, seed: 3 })
    const [rr, sollol] = result.summaries
    expect(rr!.successRate).toBe(1)
    expect(sollol!.successRate).toBe(1)
    expect(sollol!.latencyMs.p95).toBeLessThan(rr!.latencyMs.p95)
    expect(sollol!.latencyMs.mean).toBeLessThan(0.8 * rr!.latencyMs.mean)
    // the fast GPU takes most of the work under sollol
    expect(sollol!.nodeShare["fast-gpu"]).toBeGreaterThan(rr!.nodeShare["fast-gpu"]!)
    expect(result.rate).toBeCloseTo(0.7 * result.capacity, 1)
    // no strategy beats the ideal floor, and the report shows it next to 0.5 × round-robin's p95
    expect(result.idealP95Ms).toBeGreaterThan(0)
    expect(result.idealP95Ms).toBeLessThan(sollol!.latencyMs.p95)
    expect(formatSummaries("h", result.summaries, false)).toMatch(/ideal p95 .*: \d+\.\d\ds; 0\.5 × round-robin p95 = /)
  }, 120_000)

  it("is reproducible: the same seed gives the same figures", () => {
    const arrivals = makeArrivals("mixed", { requests: 40, rate: 5, seed: 9, models })
    const a = summarize(runStrategy({ scenario: "homogeneous3", strategy: "p2c-ewma", arrivals, seed: 9 }))
    const b = summarize(runStrategy({ scenario: "homogeneous3", strategy: "p2c-ewma", arrivals, seed: 9 }))
    expect(a).toEqual(b)
  }, 60_000)

  it("serves urgent requests first under overload", () => {
    // round-robin: sollol sends batch work to idle slower nodes, so in a short run it hardly waits at all
    const result = simulate({ scenario: "hetero3", strategies: ["round-robin"], workload: "priority", requests: 150, seed: 2 })
    const waits = result.summaries[0]!.waitByPriority
    const of = (p: number) => waits.find((w) => w.priority === p)!
    expect(of(10).meanMs).toBeLessThan(of(1).meanMs / 4)
    for (const w of waits) expect(w.maxMs).toBeLessThanOrEqual((10 - w.priority) * result.summaries[0]!.agingIntervalMs + 30_000)
  }, 120_000)

  it("sends a burst for a cold model to the node already loading it, not to every node", () => {
    // four requests for a model no node has loaded, 100 ms apart: the first starts a 4.5 s load somewhere
    const arrivals = Array.from({ length: 4 }, (_, index) => ({
      index,
      atMs: index * 100,
      kind: "chat" as const,
      path: "/api/chat",
      priority: 5,
      body: { model: "qwen2.5:7b", messages: [{ role: "user", content: `question ${index}` }], stream: false, options: { num_predict: 20 } }
    }))
    const loadedOn = (strategy: string) => {
      const outcomes = runStrategy({ scenario: "homogeneous3", strategy, arrivals, seed: 1 }).outcomes
      expect(outcomes.every((o) => o.ok)).toBe(true)
      return new Set(outcomes.map((o) => o.node)).size
    }
    expect(loadedOn("sollol")).toBe(1)
    expect(loadedOn("round-robin")).toBe(3)
  }, 60_000)

  it("with --slots far above the nodes' own, lets round-robin queue inside the nodes as a plain proxy would", () => {
    // learned slots: a full node's turn is skipped and the request waits in the gateway for a free slot;
    // 1000 slots: every request goes out at once, a third of them to the CPU box, where they queue
    const run = (slots?: number) =>
      simulate({ scenario: "hetero3", strategies: ["round-robin"], requests: 150, seed: 3, ...(slots !== undefined ? { slots } : {}) })
    const learned = run().summaries[0]!
    const plain = run(1000)
    expect(plain.slots).toBe(1000)
    expect(learned.nodeShare["cpu"]).toBeLessThan(0.1)
    expect(plain.summaries[0]!.nodeShare["cpu"]).toBeGreaterThan(0.2)
    expect(plain.summaries[0]!.latencyMs.p95).toBeGreaterThan(5 * learned.latencyMs.p95)
  }, 120_000)

  it("serves the multi-model workload mostly from nodes that have the model loaded", () => {
    const result = simulate({ scenario: "hetero3", strategies: ["sollol"], workload: "multimodel", requests: 120, seed: 4 })
    expect(result.summaries[0]!.loadedHitRate).toBeGreaterThanOrEqual(0.9)
    expect(result.summaries[0]!.successRate).toBe(1)
  }, 120_000)

  it("keeps models where they are loaded when they do not all fit on every node", () => {
    // homogeneous3: 12 GB per GPU against 14 GB of models, so a node that serves everything must evict
    const result = simulate({ scenario: "homogeneous3", strategies: ["round-robin", "sollol"], workload: "multimodel", requests: 150, seed: 4 })
    const [rr, sollol] = result.summaries
    expect(sollol!.loadedHitRate).toBeGreaterThanOrEqual(0.9)
    expect(rr!.loadedHitRate).toBeLessThan(0.9)
    expect(sollol!.latencyMs.mean).toBeLessThan(0.5 * rr!.latencyMs.mean)
  }, 120_000)
})

describe("simulate helpers", () => {
  it("draws the same request bodies at any rate, and arrivals at the given mean rate", () => {
    const slow = makeArrivals("prefix", { requests: 500, rate: 1, seed: 5, models })
    const fast = makeArrivals("prefix", { requests: 500, rate: 10, seed: 5, models })
    expect(slow.map((a) => a.body)).toEqual(fast.map((a) => a.body))
    const meanGap = fast[fast.length - 1]!.atMs / fast.length
    expect(meanGap).toBeGreaterThan(80)
    expect(meanGap).toBeLessThan(120)
  })

  it("computes a capacity where the datacenter GPU dominates and the CPU adds little", () => {
    const arrivals = makeArrivals("mixed", { requests: 300, rate: 1, seed: 1, models })
    const hetero = capacityOf("hetero3", arrivals)
    const homogeneous = capacityOf("homogeneous3", arrivals)
    expect(hetero).toBeGreaterThan(homogeneous)
    expect(hetero).toBeGreaterThan(5)
    expect(hetero).toBeLessThan(20)
    // flaky is homogeneous3 with one node up half the time
    expect(capacityOf("flaky", arrivals) / homogeneous).toBeCloseTo(2.5 / 3, 6)
  })

  it("takes nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(xs, 0.5)).toBe(50)
    expect(percentile(xs, 0.95)).toBe(95)
    expect(percentile(xs, 0.99)).toBe(99)
    expect(percentile([], 0.5)).toBe(0)
  })

  it("parses the command line and rejects bad flags", () => {
    expect(parseSimulateArgs(["--scenario", "hetero3"])).toMatchObject({
      scenario: "hetero3",
      strategies: ["round-robin", "least-loaded", "p2c-ewma", "sollol"],
      workload: "mixed",
      requests: 2000,
      rate: undefined,
      seed: 1,
      slots: undefined,
      json: false
    })
    expect(parseSimulateArgs(["--scenario", "flaky", "--strategy", "sollol", "--rate", "2.5", "--json"]))
      .toMatchObject({ scenario: "flaky", strategies: ["sollol"], rate: 2.5, json: true })
    expect(parseSimulateArgs(["--scenario", "nowhere"])).toMatch(/--scenario/)
    expect(parseSimulateArgs(["--scenario", "hetero3", "--strategy", "magic"])).toMatch(/unknown strategy magic/)
    expect(parseSimulateArgs(["--scenario", "hetero3", "--requests", "0"])).toMatch(/--requests/)
    expect(parseSimulateArgs(["--scenario", "hetero3", "--workload", "x"])).toMatch(/--workload/)
    expect(parseSimulateArgs(["--scenario", "hetero3", "--slots", "1000"])).toMatchObject({ slots: 1000 })
    expect(parseSimulateArgs(["--scenario", "hetero3", "--slots", "2.5"])).toMatch(/--slots must be a positive integer/)
  })

  it("takes gateway settings from --config, validated, without its nodes", () => {
    const dir = mkdtempSync(join(tmpdir(), "sollol-simulate-"))
    try {
      const good = join(dir, "tuned.yaml")
      writeFileSync(good, "nodes: [{ url: http://ignored:1 }]\nsollol:\n  weights: { priority: 0 }\nqueue: { agingIntervalMs: 2000 }\n")
      expect(parseSimulateArgs(["--scenario", "hetero3", "--config", good])).toMatchObject({
        config: { sollol: { weights: { priority: 0 } }, queue: { agingIntervalMs: 2000 } }
      })
      expect((parseSimulateArgs(["--scenario", "hetero3", "--config", good]) as { config: object }).config).not.toHaveProperty("nodes")
      const bad = join(dir, "bad.yaml")
      writeFileSync(bad, "sollol:\n  weights: { priority: high }\n")
      expect(parseSimulateArgs(["--scenario", "hetero3", "--config", bad])).toMatch(/sollol\.weights\.priority/)
      expect(parseSimulateArgs(["--scenario", "hetero3", "--config", join(dir, "missing.yaml")])).toMatch(/cannot read/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
