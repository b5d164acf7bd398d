import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Candidate } from "../../../src/domain/Candidate.js"
import type { RoutingIntent } from "../../../src/domain/Request.js"
import { makeSlowdown } from "../../../src/strategies/sollol/completionTime.js"
import { defaultSollolConfig, resolveSollolConfig, type SollolConfig } from "../../../src/strategies/sollol/config.js"
import { clusterMedian, isSaturated, makeContext, MEDIAN_SAMPLE } from "../../../src/strategies/sollol/context.js"
import { decide, SCORE_ALL_UP_TO, scoreCandidate, selectBest, worthWaiting } from "../../../src/strategies/sollol/picker.js"
import { candidate, intent } from "../fixtures.js"
import { perf } from "./helpers.js"

/** The pick by scoring every eligible candidate, as `decide` did before it skipped hopeless ones. */
const bruteForce = (i: RoutingIntent, cs: ReadonlyArray<Candidate>, config: SollolConfig, waitedMs: number) => {
  const ctx = makeContext(i, cs, config, undefined)
  const free = cs.filter((c) => !isSaturated(c))
  const fastest = Math.min(...cs.map((c) => ctx.estimateOf(c).serviceMs))
  const spillMs = Math.min(
    ...free.filter((c) => {
      const e = ctx.estimateOf(c)
      return e.serviceMs <= config.spillTolerance * fastest || waitedMs >= e.totalMs
    }).map((c) => ctx.estimateOf(c).totalMs)
  )
  const eligible = free.length === 0 || free.length === cs.length
    ? cs
    : cs.filter((c) => !isSaturated(c) || worthWaiting(ctx.estimateOf(c).totalMs, spillMs, config, waitedMs))
  return selectBest(eligible.map((c) => scoreCandidate(i, c, ctx)), 0)?.best
}

const arbCandidate = (i: number) =>
  fc.record({
    inFlight: fc.integer({ min: 0, max: 6 }),
    health: fc.constantFrom("healthy" as const, "degraded" as const, "recovering" as const),
    modelLoaded: fc.boolean(),
    optionsMatch: fc.boolean(),
    recentFailures: fc.integer({ min: 0, max: 3 }),
    ewmaMs: fc.integer({ min: 0, max: 3000 }),
    observed: fc.boolean(),
    prefill: fc.integer({ min: 50, max: 20_000 }),
    decode: fc.integer({ min: 5, max: 300 }),
    load: fc.integer({ min: 300, max: 8000 })
  }).map((r) =>
    candidate(`n-${String(i).padStart(4, "0")}`, {
      inFlight: r.inFlight,
      health: r.health,
      modelLoaded: r.modelLoaded,
      optionsMatch: r.optionsMatch,
      recentFailures: r.recentFailures,
      ewmaMs: r.ewmaMs,
      perf: r.observed ? perf(r.prefill, r.decode, r.load) : undefined
    })
  )

const arbCluster = fc.integer({ min: SCORE_ALL_UP_TO + 1, max: 90 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => arbCandidate(i)))
)

describe("decide at scale", () => {
  it("picks what scoring every candidate picks, though it skips candidates that cannot win", () => {
    fc.assert(
      fc.property(
        arbCluster,
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 2000 }),
        (cs, p, waited) => {
          const i: RoutingIntent = { ...intent, priority: p, promptTokens: 300, expectedOutputTokens: 120 }
          const got = decide(i, cs, defaultSollolConfig, undefined, 0, waited)
          const want = bruteForce(i, cs, defaultSollolConfig, waited)
          expect(got?.pick.candidate.nodeId).toBe(want?.candidate.nodeId)
          expect(got?.pick.score).toBeCloseTo(want?.score ?? NaN, 6)
        }
      ),
      { seed: 42, numRuns: 150 }
    )
  })

  it("scores fewer candidates than it is given on a varied large cluster, and every one of a small one", () => {
    const big = Array.from({ length: 400 }, (_, k) =>
      candidate(`n-${k}`, { perf: perf(1000 + k * 20, 10 + (k % 50) * 5, 3000) }))
    const i: RoutingIntent = { ...intent, promptTokens: 300, expectedOutputTokens: 120 }
    const large = decide(i, big, defaultSollolConfig, undefined, 0)!
    expect(large.pick.scored.length).toBeLessThan(big.length / 4)
    const small = decide(i, big.slice(0, SCORE_ALL_UP_TO), defaultSollolConfig, undefined, 0)!
    expect(small.pick.scored).toHaveLength(SCORE_ALL_UP_TO)
  })

  it("scores every candidate when a weight is negative (the score bound no longer holds)", () => {
    const big = Array.from({ length: 60 }, (_, k) => candidate(`n-${k}`, { perf: perf(1000, 10 + k, 3000) }))
    const config = resolveSollolConfig({ weights: { health: -1 } })
    expect(decide(intent, big, config, undefined, 0)!.pick.scored).toHaveLength(60)
  })
})

describe("clusterMedian", () => {
  it("is exact up to MEDIAN_SAMPLE observed candidates and close past it", () => {
    const of = (n: number) => Array.from({ length: n }, (_, k) => candidate(`n-${k}`, { perf: perf(100 * (k + 1), k + 1, 1000) }))
    expect(clusterMedian(of(MEDIAN_SAMPLE))?.decodeTps).toBe((MEDIAN_SAMPLE + 1) / 2)
    const m = clusterMedian(of(1000))!
    expect(Math.abs(m.decodeTps - 500.5)).toBeLessThan(1000 / MEDIAN_SAMPLE)
    expect(Math.abs(m.prefillTps - 50_050)).toBeLessThan(100_000 / MEDIAN_SAMPLE)
  })
})

describe("makeSlowdown", () => {
  it("equals running^exponent, remembered or not", () => {
    const f = makeSlowdown(0.25)
    for (const n of [1, 2, 3, 4, 4, 64, 65, 200]) expect(f(n)).toBe(n ** 0.25)
  })
})
