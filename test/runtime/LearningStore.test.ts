import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { NodeId } from "../../src/domain/NodeId.js"
import { defaultLearningConfig, LearningStore, layer, learnSlots, make } from "../../src/runtime/LearningStore.js"
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
      const estimator = yield* store.outputEstimator
      assert.strictEqual(estimator(model, "generation"), 100)
      assert.isUndefined(estimator("qwen:7b", "generation"))
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

  it.effect("learns slots where aggregate throughput stops growing", () =>
    Effect.gen(function*() {
      const store = yield* make()
      assert.isUndefined(yield* store.slots(gpu))
      // per-stream decode 40, 36, 33, 26 tok/s at 1..4 in flight: aggregate 40, 72, 99, 104
      for (const [c, tps] of [[1, 40], [2, 36], [3, 33], [4, 26]] as const) {
        for (let i = 0; i < 3; i++) yield* store.observe(ok(tps, { concurrency: c }))
        if (c === 1) assert.strictEqual(yield* store.slots(gpu), 2) // grew up to the top level: probe one more
      }
      assert.strictEqual(yield* store.slots(gpu), 3)
    }))

  it.effect("does not learn more slots than the node runs when extra requests wait inside it", () =>
    Effect.gen(function*() {
      const store = yield* make()
      // 4 real slots, each stream at 40 tok/s; past 4 in flight, a request waits for a slot (in total_duration)
      for (const level of [1, 2, 3, 4, 5, 6]) {
        const evalNs = 2.5e9
        const waitNs = (evalNs * Math.max(0, level - 4)) / 4
        const t: OllamaTimings = {
          totalNs: 0.1e9 + evalNs + waitNs,
          loadNs: 0,
          promptEvalCount: 100,
          promptEvalNs: 0.1e9,
          evalCount: 100,
          evalNs
        }
        for (let i = 0; i < 3; i++) yield* store.observe(ok(40, { concurrency: level, timings: t }))
      }
      assert.strictEqual(yield* store.slots(gpu), 4)
    }))

  it.effect("reads the same figures synchronously, and forgets cached slots on restore", () =>
    Effect.gen(function*() {
      const store = yield* make()
      for (let i = 0; i < 3; i++) yield* store.observe(ok(40))
      yield* TestClock.adjust(60_000)
      const now = yield* TestClock.currentTimeMillis
      assert.deepStrictEqual(store.perfAt(gpu, model, now), yield* store.perf(gpu, model))
      assert.strictEqual(store.slotsNow(gpu), 2)
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
  const c = defaultLearningConfig
  it("ignores levels with too few samples and stays within bounds", () => {
    assert.isUndefined(learnSlots([{ concurrency: 1, bestTps: 40, n: 2 }], c))
    assert.strictEqual(learnSlots([{ concurrency: 16, bestTps: 400, n: 3 }], c), 16)
    const flat = [{ concurrency: 1, bestTps: 40, n: 5 }, { concurrency: 2, bestTps: 42, n: 5 }]
    assert.strictEqual(learnSlots(flat, c), 1)
  })
})
