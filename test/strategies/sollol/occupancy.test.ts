import { assert, describe, it } from "@effect/vitest"
import { estimate, resolveSollolConfig } from "../../../src/strategies/sollol/index.js"
import { FORGET_WAITING_MS, makeOccupancy, remainingOf } from "../../../src/strategies/sollol/occupancy.js"
import { fast, mid, work } from "./helpers.js"

const round = () => 1000
const req = (id: string, priority = 5, arrivedAt = 0) => ({ ...work, requestId: id, priority, arrivedAt })

describe("occupancy", () => {
  it("waits for the earliest expected end on a full node, and nothing on a free one", () => {
    const o = makeOccupancy()
    for (const [i, end] of [300, 100, 700, 500].entries()) o.record(req(`r${i}`), fast({ inFlight: i, slots: 4 }), 0, end)
    const waits = o.waits(req("new"), [fast({ inFlight: 4, slots: 4 }), mid({ inFlight: 0 })], 0, round)
    assert.deepStrictEqual(Array.from(waits), [100, 0])
    assert.strictEqual(o.remainingSum(0), 1600)
  })

  it("drops the earliest ends when requests finished, and pads unknown in-flight ones", () => {
    const o = makeOccupancy()
    for (const [i, end] of [100, 400].entries()) o.record(req(`r${i}`), fast({ inFlight: i, slots: 2 }), 0, end)
    // one finished (the earlier end): the remaining one ends at 400
    assert.deepStrictEqual(Array.from(o.waits(req("x"), [fast({ inFlight: 1, slots: 1 })], 0, round)), [400])
    // three in flight, one known: two padded at half a round from now
    o.waits(req("y"), [fast({ inFlight: 3, slots: 4 })], 0, round)
    assert.strictEqual(o.remainingSum(0), 400 + 500 + 500)
  })

  it("lets requests waiting ahead take the earlier slots, by priority then arrival", () => {
    const o = makeOccupancy()
    const full = fast({ inFlight: 2, slots: 2 })
    o.record(req("a"), fast({ inFlight: 0, slots: 2 }), 0, 100)
    o.record(req("b"), fast({ inFlight: 1, slots: 2 }), 0, 300)
    o.record(req("early", 5, 10), full, 20, 0)
    assert.strictEqual(o.waitingCount(), 1)
    // "early" waits ahead of a later request of the same priority: the later one gets the second slot
    assert.deepStrictEqual(Array.from(o.waits(req("late", 5, 20), [full], 20, round)), [280])
    // an urgent request goes first
    assert.deepStrictEqual(Array.from(o.waits(req("urgent", 9, 20), [full], 20, round)), [80])
    // past the known ends, a round per slot-full
    o.record(req("mid1", 5, 11), full, 20, 0)
    assert.deepStrictEqual(Array.from(o.waits(req("last", 5, 30), [full], 30, round)), [70 + 1000])
    // a request sent to a free slot stops waiting; a wait not seen for long is forgotten
    o.record(req("early", 5, 10), fast({ inFlight: 1, slots: 2 }), 40, 900)
    assert.strictEqual(o.waitingCount(), 1)
    o.waits(req("z"), [fast({ inFlight: 3, slots: 2 })], 40 + FORGET_WAITING_MS + 1, round)
    assert.strictEqual(o.waitingCount(), 0)
  })

  it("reports the request that has run longest on each node, with its size", () => {
    const o = makeOccupancy()
    o.record(req("a"), fast({ inFlight: 0, slots: 4 }), 100, 900)
    o.record({ ...req("b"), promptTokens: 50, expectedOutputTokens: 10 }, fast({ inFlight: 1, slots: 4 }), 300, 400)
    o.waits(req("new"), [fast({ inFlight: 2, slots: 4 }), mid({ inFlight: 0 })], 1_000, round)
    assert.deepStrictEqual(o.longestRunning().slice(0, 2), [
      { elapsedMs: 900, promptTokens: work.promptTokens, outputTokens: work.expectedOutputTokens },
      { elapsedMs: 0, promptTokens: 0, outputTokens: 0 }
    ])
    // one of the two finished: taken to be "b", expected to end first (at 400), so "a" runs on
    o.waits(req("next"), [fast({ inFlight: 1, slots: 4 })], 1_200, round)
    assert.strictEqual(o.longestRunning()[0]?.elapsedMs, 1_100)
    // a request in flight that sollol did not send (size unknown) is no evidence
    const other = makeOccupancy()
    other.waits(req("x"), [fast({ inFlight: 1, slots: 4 })], 0, round)
    assert.deepStrictEqual(other.longestRunning()[0], { elapsedMs: 0, promptTokens: 0, outputTokens: 0 })
  })

  it("counts a late request as running as long again as it is late", () => {
    assert.strictEqual(remainingOf(500, 200), 300)
    assert.strictEqual(remainingOf(500, 800), 300)
  })
})

describe("estimate with known waits", () => {
  const config = resolveSollolConfig()
  const rates = { prefillTps: 2000, decodeTps: 100, loadMs: 3000, successRate: 1 }

  it("uses the known wait instead of the flat guess", () => {
    const e = estimate(work, fast({ inFlight: 4, slots: 4, ewmaMs: 4000 }), rates, config, undefined, 250)
    assert.strictEqual(e.queueMs, 250)
  })

  it("prices contention: one more stream slows the running ones by its share of their remaining time", () => {
    const c = fast({ inFlight: 1, slots: 4 })
    const e = estimate(work, c, rates, config, undefined, 0, 2000)
    assert.closeTo(e.othersMs, (2 ** 0.25 - 1) * 2000, 1e-9)
    assert.closeTo(e.totalMs, e.prefillMs + e.decodeMs + e.othersMs, 1e-9)
    // nothing runs there, or the weight is 0: no cost
    assert.strictEqual(estimate(work, fast({ inFlight: 0 }), rates, config, undefined, 0, 2000).othersMs, 0)
    const off = resolveSollolConfig({ contentionWeight: 0 })
    assert.strictEqual(estimate(work, c, rates, off, undefined, 0, 2000).othersMs, 0)
  })
})
