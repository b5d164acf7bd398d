import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { NodeId } from "../../src/domain/NodeId.js"
import { defaultLearningConfig, LearningStore, layer, learnSlots, make } from "../../src/runtime/LearningStore.js"
import { parseTimings } from "../../src/runtime/timings.js"
import type { OllamaTimings } from "../../src/runtime/timings.js"

const gpu = NodeId("gpu-1")
const model = "llama3.2:latest"

/** A warm response: 100 prompt tokens at `prefill` tok/s, `tokens` generated at `decode` tok/s. */
const timings = (decode: number, opts: { prefill?: number; tokens?: number; loadMs?: number } = {}): OllamaTimings => {
  const tokens = opts.tokens ?? 100
  const prefill = opts.prefill ?? 1000
  return {
    totalNs: 1e9,
    loadNs: (opts.loadMs ?? 2) * 1e6,
    promptEvalCount: 100,
    promptEvalNs: (100 / prefill) * 1e9,
    evalCount: tokens,
    evalNs: (tokens / decode) * 1e9
  }
}

const ok = (decode: number, extra: Partial<Parameters<LearningStore["Type"]["observe"]>[0]> = {}) => ({
  nodeId: gpu,
  model,
  taskType: "generation" as const,
  timings: timings(decode),
  ok: true,
  concurrency: 1,
  ...extra
})

const near = (a: number, b: number, tol = 1e-6) =>
  assert.isTrue(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`)

/**
 * A response from a node with `real` slots to a request sent with `level` in flight: past `real` it waited for a
 * slot (half its run time, inside total_duration).
 */
const sent = (nodeId: NodeId, level: number, real: number) => {
  const t = timings(40)
  const wait = level > real ? (t.promptEvalNs + t.evalNs) / 2 : 0
  return { ...ok(40, { concurrency: level }), nodeId, timings: { ...t, totalNs: t.loadNs + t.promptEvalNs + t.evalNs + wait } }
}

describe("LearningStore", () => {
  it.effect("learns rates from Ollama's timing fields", () =>
    Effect.gen(function*() {
      const store = yield* make()
      assert.isUndefined(yield* store.perf(gpu, model))
      yield* store.observe(ok(50, { timings: timings(50, { prefill: 2000 }), ttftMs: 80 }))
      const p = yield* store.perf(gpu, model)
      assert.isDefined(p)
      near(p!.decodeTps, 50)
      near(p!.prefillTps, 2000)
      near(p!.ttftMs, 80)
      assert.strictEqual(p!.loadMs, defaultLearningConfig.fallback.loadMs)
      assert.strictEqual(p!.successRate, 1)
      assert.strictEqual(p!.samples, 1)
      assert.strictEqual(yield* store.outputEstimate(model, "generation"), 100)
      assert.isUndefined(yield* store.outputEstimate(model, "analysis"))
      assert.strictEqual(store.outputNow(model, "generation"), 100)
      const estimator = yield* store.outputEstimator
      assert.strictEqual(estimator(model, "generation"), 100)
      assert.isUndefined(estimator("qwen:7b", "generation"))
    }))

  it.effect("learns an embedding rate from /api/embed answers, and nothing about slots from them", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const embed = parseTimings({ model: "e", embeddings: [[0]], total_duration: 11e6, load_duration: 1e6, prompt_eval_count: 400 })
      yield* store.observe({ nodeId: gpu, model: "nomic-embed-text:latest", taskType: "embedding", timings: embed, ok: true, concurrency: 3 })
      near((yield* store.perf(gpu, "nomic-embed-text:latest"))!.prefillTps, 400 / 0.01)
      assert.deepStrictEqual((yield* store.snapshot).levels, [])
    }))

  it.effect("learns load time only from cold loads, without counting it in TTFT", () =>
    Effect.gen(function*() {
      const store = yield* make({ coldLoadMs: 500 })
      yield* store.observe(ok(50, { timings: timings(50, { loadMs: 3 }) }))
      assert.strictEqual((yield* store.perf(gpu, model))!.loadMs, defaultLearningConfig.fallback.loadMs)
      yield* store.observe(ok(50, { timings: timings(50, { loadMs: 4000 }), ttftMs: 4100 }))
      const p = (yield* store.perf(gpu, model))!
      near(p.loadMs, 4000)
      assert.isBelow(p.ttftMs, 150)
    }))

  it.effect("bounds the inflated prefill rate of a cached prompt prefix", () =>
    Effect.gen(function*() {
      const store = yield* make({ halfLifeSamples: 1 })
      yield* store.observe(ok(50, { timings: timings(50, { prefill: 1000 }) }))
      yield* store.observe(ok(50, { timings: timings(50, { prefill: 100_000 }) }))
      near((yield* store.perf(gpu, model))!.prefillTps, (1000 + 4000) / 2)
    }))

  it.effect("averages with a half-life in samples", () =>
    Effect.gen(function*() {
      const store = yield* make({ halfLifeSamples: 1 })
      yield* store.observe(ok(100))
      yield* store.observe(ok(50))
      near((yield* store.perf(gpu, model))!.decodeTps, 75)
    }))

  it.effect("lets old figures decay with time", () =>
    Effect.gen(function*() {
      const store = yield* make({ halfLifeSamples: 1_000_000, halfLifeMs: 1000 })
      yield* store.observe(ok(100))
      yield* store.observe(ok(50))
      near((yield* store.perf(gpu, model))!.decodeTps, 100, 1e-3) // same instant, huge sample half-life: barely moves
      yield* TestClock.adjust("20 seconds")
      yield* store.observe(ok(50))
      near((yield* store.perf(gpu, model))!.decodeTps, 50, 1e-3)
    }))

  it.effect("lowers the success rate on failures and forgives them with time", () =>
    Effect.gen(function*() {
      const store = yield* make({ halfLifeSamples: 1, halfLifeMs: 60_000 })
      yield* store.observe(ok(50, { ok: false, timings: undefined }))
      near((yield* store.perf(gpu, model))!.successRate, 0.5)
      yield* TestClock.adjust("60 seconds")
      near((yield* store.perf(gpu, model))!.successRate, 0.75)
    }))

  it.effect("starts from priors and replaces them with observations", () =>
    Effect.gen(function*() {
      const store = yield* make({ priors: { [model]: { decodeTps: 20, loadMs: 9000 } } })
      const before = (yield* store.perf(gpu, model))!
      assert.strictEqual(before.decodeTps, 20)
      assert.strictEqual(before.samples, 0)
      yield* store.seed({ "qwen:7b": { prefillTps: 123 } })
      assert.strictEqual((yield* store.perf(gpu, "qwen:7b"))!.prefillTps, 123)
      yield* store.observe(ok(80))
      const after = (yield* store.perf(gpu, model))!
      near(after.decodeTps, 80)
      assert.strictEqual(after.loadMs, 9000)
    }))

  it.effect("learns the slots a simulated node really runs in parallel, from the waits for a slot", () =>
    Effect.gen(function*() {
      for (const real of [1, 2, 4, 7]) {
        const node = NodeId(`sim-${real}`)
        const store = yield* make()
        // an overloaded gateway fills every slot it believes in (4 until learned): levels 1..offered each round
        for (let round = 0; round < 12; round++) {
          const offered = store.slotsNow(node) ?? 4
          for (let level = 1; level <= offered; level++) yield* store.observe(sent(node, level, real))
          yield* TestClock.adjust(2_000)
        }
        assert.strictEqual(store.slotsNow(node), real, `a node with ${real} slots`)
      }
    }))

  it.effect("is not stalled by models of different speeds on one node (hetero3 multimodel: fast-gpu stuck at 1)", () =>
    Effect.gen(function*() {
      const store = yield* make()
      // alone, the fast model decodes 300 tok/s; with others in flight the slow one (145 × n^-0.25 per stream) is
      // what is seen: 244 tok/s in total at 2, less than one fast stream, which throughput-based learning read as
      // "no gain from a second slot" and never tried a second one again
      for (let round = 0; round < 12; round++) {
        const offered = store.slotsNow(gpu) ?? 4
        for (let level = 1; level <= offered; level++) {
          const base = sent(gpu, level, 4)
          const t = timings(level === 1 ? 300 : 145 * level ** -0.25)
          const wait = level > 4 ? (t.promptEvalNs + t.evalNs) / 2 : 0
          yield* store.observe({ ...base, timings: { ...t, totalNs: t.loadNs + t.promptEvalNs + t.evalNs + wait } })
        }
      }
      assert.strictEqual(store.slotsNow(gpu), 4)
    }))

  it.effect("offers one slot more while the level above has not shown enough waits", () =>
    Effect.gen(function*() {
      const store = yield* make({ initialSlots: 1 })
      assert.isUndefined(yield* store.slots(gpu))
      // by default a lightly loaded node is offered the registry's default 4 until a level closes
      const plain = yield* make()
      yield* plain.observe(sent(gpu, 1, 4))
      assert.strictEqual(plain.slotsNow(gpu), 4)
      yield* store.observe(sent(gpu, 1, 4))
      assert.strictEqual(yield* store.slots(gpu), 2)
      yield* store.observe(sent(gpu, 2, 4))
      yield* store.observe(sent(gpu, 3, 4))
      assert.strictEqual(yield* store.slots(gpu), 4)
      // a wait at 2 (say another client used the node) does not close a level that mostly started at once
      yield* store.observe(sent(gpu, 2, 1))
      assert.strictEqual(yield* store.slots(gpu), 4)
      yield* store.observe(sent(gpu, 4, 4))
      for (let i = 0; i < 2; i++) yield* store.observe(sent(gpu, 5, 4))
      assert.strictEqual(yield* store.slots(gpu), 5)
      yield* store.observe(sent(gpu, 5, 4))
      assert.strictEqual(yield* store.slots(gpu), 4)
    }))

  it.effect("probes again once old waits have faded, so a node given more slots is found out", () =>
    Effect.gen(function*() {
      const store = yield* make({ initialSlots: 1 })
      for (let i = 0; i < 4; i++) for (const level of [1, 2, 3]) yield* store.observe(sent(gpu, level, 2))
      assert.strictEqual(store.slotsNow(gpu), 2)
      // the node is reconfigured to 4 slots; an hour later the waits at level 3 weigh too little to close it
      yield* TestClock.adjust("60 minutes")
      yield* store.observe(sent(gpu, 2, 4))
      assert.strictEqual(store.slotsNow(gpu), 3)
      for (const level of [3, 3, 3, 4]) yield* store.observe(sent(gpu, level, 4))
      assert.strictEqual(store.slotsNow(gpu), 5)
    }))

  it.effect("learns nothing about slots from cold loads or failures", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.observe(ok(40, { concurrency: 3, timings: timings(40, { loadMs: 3000 }) }))
      yield* store.observe({ ...sent(gpu, 3, 4), ok: false })
      assert.isUndefined(store.slotsNow(gpu))
    }))

  it.effect("reads the same figures synchronously, and forgets cached slots on restore", () =>
    Effect.gen(function*() {
      const store = yield* make()
      for (let i = 0; i < 3; i++) yield* store.observe(ok(40))
      yield* TestClock.adjust(60_000)
      const now = yield* TestClock.currentTimeMillis
      assert.deepStrictEqual(store.perfAt(gpu, model, now), yield* store.perf(gpu, model))
      assert.strictEqual(store.slotsNow(gpu), 4)
      assert.strictEqual(store.slotsNow(gpu), yield* store.slots(gpu))
      yield* store.restore({ version: 1, perf: [], outputs: [], levels: [] })
      assert.isUndefined(store.slotsNow(gpu))
      assert.isUndefined(store.perfAt(gpu, model, now))
    }))

  it.effect("lets configured slots win", () =>
    Effect.gen(function*() {
      const store = yield* make({ slots: { [gpu]: 7 } })
      for (let i = 0; i < 5; i++) yield* store.observe(ok(40))
      assert.strictEqual(yield* store.slots(gpu), 7)
    }))

  it.effect("round-trips a snapshot through JSON", () =>
    Effect.gen(function*() {
      const store = yield* LearningStore
      for (const c of [1, 1, 1, 2, 2, 2]) yield* store.observe(ok(40 - c, { concurrency: c }))
      yield* store.observe(ok(40, { taskType: "classification", timings: timings(40, { tokens: 8, loadMs: 3000 }) }))
      const snap = yield* store.snapshot
      const other = yield* make()
      yield* other.restore(JSON.parse(JSON.stringify(snap)))
      assert.deepStrictEqual(yield* other.snapshot, snap)
      assert.deepStrictEqual(yield* other.perf(gpu, model), yield* store.perf(gpu, model))
      assert.strictEqual(yield* other.slots(gpu), yield* store.slots(gpu))
      assert.strictEqual(yield* other.outputEstimate(model, "classification"), 8)
    }).pipe(Effect.provide(layer())))
})

describe("learnSlots", () => {
  const c = { ...defaultLearningConfig, initialSlots: 1 }
  const level = (concurrency: number, ran: number, waited: number, at = 0) => ({ concurrency, ran, waited, at })
  it("takes the highest level that mostly started at once, plus one unless the level above is closed", () => {
    assert.isUndefined(learnSlots([], c, 0))
    assert.isUndefined(learnSlots([level(1, 0, 2)], c, 0))
    assert.strictEqual(learnSlots([level(1, 3, 0)], c, 0), 2)
    assert.strictEqual(learnSlots([level(1, 3, 0), level(2, 3, 3)], c, 0), 3)
    assert.strictEqual(learnSlots([level(1, 3, 0), level(2, 1, 3)], c, 0), 1)
    assert.strictEqual(learnSlots([level(1, 3, 0), level(2, 1, 3), level(3, 1, 0)], c, 0), 4)
    assert.strictEqual(learnSlots([level(16, 5, 0)], c, 0), 16)
    assert.strictEqual(learnSlots([level(1, 3, 0)], defaultLearningConfig, 0), 4)
    assert.strictEqual(learnSlots([level(1, 3, 0), level(2, 1, 3)], defaultLearningConfig, 0), 1)
  })

  it("reopens a closed level as its waits fade with time", () => {
    const levels = [level(1, 3, 0, 0), level(2, 0, 5, 0)]
    assert.strictEqual(learnSlots(levels, c, c.halfLifeMs / 2), 1)
    assert.strictEqual(learnSlots(levels, c, 2 * c.halfLifeMs), 2)
  })
})
