import { describe, expect, it } from "vitest"
import type { Candidate } from "../../../src/domain/Candidate.js"
import { NodeId } from "../../../src/domain/NodeId.js"
import type { RoutingIntent } from "../../../src/domain/Request.js"
import {
  affinity,
  completionTime,
  defaultSollolConfig,
  estimate,
  health,
  makeContext,
  options,
  priority,
  resolveSollolConfig
} from "../../../src/strategies/sollol/index.js"
import { emptyAffinity, lookupAffinity, rememberAffinity } from "../../../src/strategies/sollol/affinity.js"
import { clusterMedian, newcomerRates, ratesFor } from "../../../src/strategies/sollol/context.js"
import { selectBest } from "../../../src/strategies/sollol/picker.js"
import { candidate } from "../fixtures.js"
import { fast, mid, perf, slow, work } from "./helpers.js"

const cfg = defaultSollolConfig
const ctxOf = (cs: ReadonlyArray<Candidate>, i: RoutingIntent = work, affinityNode?: string) =>
  makeContext(i, cs, cfg, affinityNode === undefined ? undefined : NodeId(affinityNode))

describe("completionTime", () => {
  it("adds prefill and decode at the learned rates", () => {
    const c = fast()
    expect(completionTime(work, c, ctxOf([c]))).toBeCloseTo(1100)
  })
  it("prices a cold load in", () => {
    const e = estimate(work, fast({ modelLoaded: false }), { ...perf(2000, 100, 3000), successRate: 1 }, cfg)
    expect(e.loadMs).toBe(3000)
    expect(e.totalMs).toBeCloseTo(4100)
  })
  it("slows streams that share the node and queues past the slots", () => {
    const r = { ...perf(2000, 100, 3000), successRate: 1 }
    const busy = estimate(work, fast({ inFlight: 3, slots: 4 }), r, cfg)
    expect(busy.queueMs).toBe(0)
    expect(busy.totalMs).toBeCloseTo(1100 * 4 ** 0.25)
    const full = estimate(work, fast({ inFlight: 5, slots: 4, ewmaMs: 2000 }), r, cfg)
    expect(full.queueMs).toBeCloseTo((2 * 2000) / 4)
  })
  it("assumes an unobserved node is typical of the cluster, then its prior, then the defaults", () => {
    const unknown = candidate("new", { perf: undefined })
    const prior = candidate("prior", { perf: perf(100, 10, 1, { samples: 0 }) })
    const cluster = clusterMedian([fast(), mid(), slow(), unknown])
    expect(cluster?.decodeTps).toBeCloseTo(100 / 1.2)
    expect(ratesFor(unknown, cluster, cfg).decodeTps).toBeCloseTo(100 / 1.2)
    expect(ratesFor(prior, undefined, cfg).decodeTps).toBe(10)
    expect(ratesFor(unknown, undefined, cfg).decodeTps).toBe(cfg.defaults.decodeTps)
  })
})

describe("newcomerRates", () => {
  it("assumes a node new to the model is as fast as the fastest seen (or the defaults), typical in load time", () => {
    const r = newcomerRates([fast(), mid(), slow(), candidate("new", { perf: undefined })], cfg)!
    expect(r.decodeTps).toBe(100)
    expect(r.prefillTps).toBe(2000)
    expect(r.loadMs).toBe(6000) // the median of 3 000, 6 000 and 10 000
    const slowOnly = newcomerRates([slow(), candidate("new", { perf: undefined })], cfg)!
    expect(slowOnly.decodeTps).toBe(Math.max(25, cfg.defaults.decodeTps))
    expect(newcomerRates([candidate("new", { perf: undefined })], cfg)).toBeUndefined()
  })
})

describe("health", () => {
  it("costs nothing for a healthy node without failures", () => {
    const c = fast()
    expect(health(work, c, ctxOf([c]))).toBe(0)
  })
  it("penalises degraded, probation, recent failures and a low success rate", () => {
    const base = fast()
    const at = (c: Candidate) => health(work, c, ctxOf([c]))
    expect(at(fast({ health: "degraded" }))).toBeCloseTo(1100 * 0.5)
    expect(at(fast({ health: "recovering" }))).toBeCloseTo(1100)
    expect(at(fast({ recentFailures: 2 }))).toBeCloseTo(1100 * 0.4)
    expect(at(fast({ recentFailures: 1000 }))).toBeCloseTo(1100 * 2)
    expect(at(fast({ perf: { ...base.perf!, successRate: 0.9 } }))).toBeCloseTo(1100 * 0.2)
    const tiny = { ...work, promptTokens: 1, expectedOutputTokens: 1 }
    expect(health(tiny, fast({ health: "degraded" }), ctxOf([fast()], tiny))).toBeCloseTo(50)
  })
})

describe("priority", () => {
  const cs = [fast(), mid(), slow()]
  const ctx = ctxOf(cs)
  const at = (p: number, c: Candidate) => priority({ ...work, priority: p }, c, ctx)
  it("is neutral for middle priorities", () => {
    for (const c of cs) expect(at(5, c)).toBe(0)
  })
  it("charges urgent work for every ms slower than the fastest node", () => {
    expect(at(10, cs[0]!)).toBe(0)
    expect(at(10, cs[2]!)).toBeCloseTo(3300)
    expect(at(8, cs[2]!)).toBeCloseTo(1100)
  })
  it("charges batch work for using fast nodes, bounded by the tolerance", () => {
    expect(at(1, cs[2]!)).toBe(0)
    expect(at(1, cs[1]!)).toBeCloseTo(1.25 * 3000)
    expect(at(1, cs[0]!)).toBeCloseTo(3 * 1100) // 1.25 × 3.3 s gap capped at (4 − 1) × 1.1 s
    expect(at(3, cs[1]!)).toBeCloseTo((1.25 * 3000) / 3)
  })
})

describe("affinity", () => {
  const keyed = { ...work, affinityKey: "conv-1" }
  it("gives the remembered node a bonus worth its prefill", () => {
    const c = fast()
    expect(affinity(keyed, c, ctxOf([c], keyed, "fast"))).toBeCloseTo(-(250 + 0.8 * 100))
  })
  it("gives nothing to other nodes, to keyless requests and to a saturated node", () => {
    expect(affinity(keyed, mid(), ctxOf([fast(), mid()], keyed, "fast"))).toBe(0)
    expect(affinity(work, fast(), ctxOf([fast()], work, "fast"))).toBe(0)
    const full = fast({ inFlight: 4, slots: 4 })
    expect(affinity(keyed, full, ctxOf([full], keyed, "fast"))).toBe(0)
  })
})

describe("affinity memory", () => {
  it("remembers keys, forgets the oldest generation past its capacity, and ignores keyless requests", () => {
    let m = emptyAffinity
    m = rememberAffinity(m, "k0", NodeId("a"), 4)
    m = rememberAffinity(m, "k1", NodeId("b"), 4) // current is full (capacity / 2): becomes previous
    expect(lookupAffinity(m, "k0")).toBe("a")
    m = rememberAffinity(m, "k2", NodeId("c"), 4)
    m = rememberAffinity(m, "k3", NodeId("d"), 4) // rotates again: k0 and k1 are dropped
    expect(lookupAffinity(m, "k0")).toBeUndefined()
    expect(lookupAffinity(m, "k3")).toBe("d")
    expect(rememberAffinity(m, undefined, NodeId("a"), 4)).toBe(m)
    expect(lookupAffinity(m, undefined)).toBeUndefined()
  })
})

describe("selectBest", () => {
  const s = (id: string, score: number, inFlight = 0) =>
    ({ candidate: candidate(id, { inFlight }), score, factors: [] })
  it("takes the lowest score, then the lowest inFlight, then turns among equal nodes in the configured order", () => {
    expect(selectBest([s("b", 2), s("a", 1)], 0)?.best.candidate.nodeId).toBe("a")
    expect(selectBest([s("a", 1, 2), s("b", 1, 1)], 0)?.best.candidate.nodeId).toBe("b")
    // candidates come in the registry's order, as the nodes were configured: the first configured goes first
    const eq = [s("c", 1), s("a", 1), s("b", 1)]
    expect([0, 1, 2, 3].map((k) => selectBest(eq, k)?.best.candidate.nodeId)).toEqual(["c", "a", "b", "c"])
    expect(selectBest([], 0)).toBeUndefined()
  })

  it("among exact ties prefers a node that runs its models on the GPU (nothing loaded counts as GPU)", () => {
    const on = (id: string, gpuShare: number | undefined) =>
      ({ candidate: candidate(id, { gpuShare }), score: 1, factors: [] })
    const tied = [on("cpu", 0), on("gpu", 1), on("partial", 0.5), on("fresh", undefined)]
    expect([0, 1, 2].map((k) => selectBest(tied, k)?.best.candidate.nodeId)).toEqual(["gpu", "fresh", "gpu"])
    expect(selectBest([on("cpu", 0), on("partial", 0.5)], 0)?.best.candidate.nodeId).toBe("partial")
    // a better score still wins
    expect(selectBest([{ ...on("cpu", 0), score: 0.5 }, on("gpu", 1)], 0)?.best.candidate.nodeId).toBe("cpu")
  })
})

describe("options", () => {
  it("charges a reload when the loaded runner's options differ", () => {
    const c = fast({ optionsMatch: false })
    expect(options(work, c, ctxOf([c]))).toBe(3000)
  })
  it("charges nothing when options match or the model is not loaded (completionTime pays the load)", () => {
    expect(options(work, fast(), ctxOf([fast()]))).toBe(0)
    const cold = fast({ modelLoaded: false, optionsMatch: false })
    expect(options(work, cold, ctxOf([cold]))).toBe(0)
  })
})

describe("resolveSollolConfig", () => {
  it("merges partial groups over the defaults", () => {
    const c = resolveSollolConfig({ weights: { affinity: 0 }, priority: { highFrom: 9 } })
    expect(c.weights).toEqual({ ...cfg.weights, affinity: 0 })
    expect(c.priority.highFrom).toBe(9)
    expect(c.priority.lowTo).toBe(cfg.priority.lowTo)
  })
})
