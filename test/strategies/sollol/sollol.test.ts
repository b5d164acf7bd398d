import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Candidate } from "../../../src/domain/Candidate.js"
import { NodeId } from "../../../src/domain/NodeId.js"
import type { RoutingIntent } from "../../../src/domain/Request.js"
import { decide, layerSollol, resolveSollolConfig } from "../../../src/strategies/sollol/index.js"
import { Strategy } from "../../../src/strategies/Strategy.js"
import { candidate } from "../fixtures.js"
import { fast, mid, perf, slow, work } from "./helpers.js"

const pick = (i: RoutingIntent, cs: ReadonlyArray<Candidate>) =>
  Effect.flatMap(Strategy, (s) => s.choose(i, cs)).pipe(
    Effect.map(Option.getOrThrowWith(() => new Error("expected a pick")))
  )
const twin = (): Candidate => ({ ...fast(), nodeId: NodeId("twin") })
const pickId = (i: RoutingIntent, cs: ReadonlyArray<Candidate>) => Effect.map(pick(i, cs), (p) => p.candidate.nodeId)

describe("sollol strategy", () => {
  it.effect("is named sollol and answers None for no candidates", () =>
    Effect.gen(function*() {
      const s = yield* Strategy
      assert.strictEqual(s.name, "sollol")
      assert.isTrue(Option.isNone(yield* s.choose(work, [])))
    }).pipe(Effect.provide(layerSollol())))

  it.effect("prefers a fast loaded node and explains why", () =>
    Effect.gen(function*() {
      const p = yield* pick(work, [slow(), mid(), fast()])
      assert.strictEqual(p.candidate.nodeId, "fast")
      assert.strictEqual(p.scored.length, 3)
      const names = p.factors.map((f) => f.name)
      assert.deepStrictEqual(names, ["completionTime", "health", "priority", "affinity", "options"])
      assert.closeTo(p.score, 1100, 1e-6)
      const why = "fast: est. 1.1 s (queue 0, load 0, prefill 100 ms, decode 1.0 s); healthy; best of 3"
      assert.strictEqual(p.reasoning, why)
    }).pipe(Effect.provide(layerSollol())))

  it.effect("prices a cold load in", () =>
    Effect.gen(function*() {
      const p = yield* pick(work, [fast({ modelLoaded: false }), mid()])
      assert.strictEqual(p.candidate.nodeId, "mid")
      const cold = p.scored.find((s) => s.nodeId === "fast")!
      assert.closeTo(cold.score, 4100, 1e-6)
      // with a short load the fast node is worth loading
      const quickLoad = fast({ modelLoaded: false, perf: { ...fast().perf!, loadMs: 100 } })
      assert.strictEqual(yield* pickId(work, [quickLoad, mid()]), "fast")
    }).pipe(Effect.provide(layerSollol())))

  it.effect("sends priority 10 to the fastest node even when busier, and priority 1 away from it", () =>
    Effect.gen(function*() {
      const busyFast = fast({ inFlight: 3, slots: 4 })
      assert.strictEqual(yield* pickId({ ...work, priority: 5 }, [busyFast, mid()]), "mid")
      const urgent = yield* pick({ ...work, priority: 10 }, [busyFast, mid()])
      assert.strictEqual(urgent.candidate.nodeId, "fast")
      assert.include(urgent.reasoning, "priority 10")
      assert.strictEqual(yield* pickId({ ...work, priority: 5 }, [fast(), mid()]), "fast")
      assert.strictEqual(yield* pickId({ ...work, priority: 1 }, [fast(), mid()]), "mid")
      // …but not onto a node far slower than the tolerance
      const crawl = slow({ perf: perf(500, 20, 10_000) }) // 5.4 s: more than 4 × 1.1 s
      assert.strictEqual(yield* pickId({ ...work, priority: 1 }, [fast(), crawl]), "fast")
      const within = slow({ perf: perf(500, 30, 10_000) }) // 3.7 s: within 4 × 1.1 s
      assert.strictEqual(yield* pickId({ ...work, priority: 1 }, [fast(), within]), "slow")
      // (the delay one more stream adds to fast's three running requests is left out here: see "prices contention")
    }).pipe(Effect.provide(layerSollol({ contentionWeight: 0 }))))

  it.effect("keeps a conversation on its node and releases it at saturation", () =>
    Effect.gen(function*() {
      const turn = { ...work, affinityKey: "conv-1" }
      const a = (inFlight = 0) => candidate("a", { ewmaMs: 0, perf: fast().perf, inFlight, slots: 2 })
      const b = (inFlight = 0) => candidate("b", { ewmaMs: 0, perf: fast().perf, inFlight, slots: 2 })
      assert.strictEqual(yield* pickId(turn, [a(), b()]), "a")
      for (let i = 0; i < 4; i++) assert.strictEqual(yield* pickId(turn, [b(), a()]), "a")
      const hit = yield* pick(turn, [a(), b()])
      assert.include(hit.reasoning, "affinity hit")
      // equal nodes without a key take turns
      const free = [yield* pickId(work, [a(), b()]), yield* pickId(work, [a(), b()])]
      assert.sameMembers(free, ["a", "b"])
      // a saturated: the conversation moves to b, and stays there afterwards
      assert.strictEqual(yield* pickId(turn, [a(2), b()]), "b")
      assert.strictEqual(yield* pickId(turn, [a(), b()]), "b")
      // the bonus does not outweigh a much faster node
      assert.strictEqual(yield* pickId(turn, [candidate("a", { ewmaMs: 0, perf: slow().perf }), b()]), "b")
    }).pipe(Effect.provide(layerSollol())))

  it.effect("penalises a degraded or recovering node", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* pickId(work, [fast({ health: "degraded" }), twin()]), "twin")
      assert.strictEqual(yield* pickId(work, [fast({ health: "recovering" }), twin()]), "twin")
      assert.strictEqual(yield* pickId(work, [fast({ recentFailures: 3 }), twin()]), "twin")
      // a degraded node that is far faster still wins
      assert.strictEqual(yield* pickId(work, [fast({ health: "degraded" }), slow()]), "fast")
    }).pipe(Effect.provide(layerSollol())))

  it.effect("prefers a node whose runner matches the load options", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* pickId(work, [fast({ optionsMatch: false }), twin()]), "twin")
    }).pipe(Effect.provide(layerSollol())))

  it.effect("skips saturated nodes while another has a free slot, unless the saturated one is worth waiting for", () =>
    Effect.gen(function*() {
      // fast, saturated: 0.28 s queue + 1.56 s contended = 1.83 s, not below 0.75 × mid's 1.4 s
      const p = yield* pick(work, [fast({ inFlight: 4, slots: 4 }), mid()])
      assert.strictEqual(p.candidate.nodeId, "mid")
      assert.strictEqual(p.scored.length, 1)
      // against slow's 4.4 s the saturated fast node wins: the request waits for its slot
      const wait = yield* pick(work, [fast({ inFlight: 4, slots: 4 }), slow()])
      assert.strictEqual(wait.candidate.nodeId, "fast")
      assert.strictEqual(wait.scored.length, 2)
      // with the flat queue guess and waitedWeight 1, a request that already waited 2 s for the busy node expects
      // as much again: slow's free slot wins
      const config = resolveSollolConfig({ realWaits: false, waitedWeight: 1, waitRatio: 0.75 })
      const waited = decide(work, [fast({ inFlight: 4, slots: 4 }), slow()], config, undefined, 0, 2_000)
      assert.strictEqual(waited?.pick.candidate.nodeId, "slow")
      // a node far slower than the spill tolerance (5.4 s > 4 × 1.1 s) takes it only after as long a wait
      const crawl = slow({ perf: perf(500, 20, 10_000) })
      const patient = decide(work, [fast({ inFlight: 4, slots: 4 }), crawl], config, undefined, 0, 3_000)
      assert.strictEqual(patient?.pick.candidate.nodeId, "fast")
      const spilled = decide(work, [fast({ inFlight: 4, slots: 4 }), crawl], config, undefined, 0, 5_500)
      assert.strictEqual(spilled?.pick.candidate.nodeId, "slow")
      const allFull = [fast({ inFlight: 4, slots: 4 }), slow({ inFlight: 9, slots: 1 })]
      assert.strictEqual(yield* pickId(work, allFull), "fast")
    }).pipe(Effect.provide(layerSollol())))

  it("assumes a node without figures is fast only until a request there overstays that speed", () => {
    const config = resolveSollolConfig()
    // a newcomer is assumed as fast as the fastest node seen: 1.1 s for `work`, against fast's wait for a slot
    const newcomer = candidate("new", { ewmaMs: 0, perf: undefined, inFlight: 1, slots: 4 })
    const busy = fast({ inFlight: 4, slots: 4 })
    const optimistic = decide(work, [busy, newcomer], config, undefined, 0, 0, undefined, { waits: [300, 0], remaining: [1_000, 1_000] })
    assert.strictEqual(optimistic?.pick.candidate.nodeId, "new")
    // its first request, the same size, has run 11 s: ten times what the assumed rates allow
    const longest = [undefined, { elapsedMs: 11_000, promptTokens: 200, outputTokens: 100 }]
    const proven = decide(work, [busy, newcomer], config, undefined, 0, 0, undefined, { waits: [300, 0], remaining: [1_000, 1_000], longest })
    assert.strictEqual(proven?.pick.candidate.nodeId, "fast")
    // not yet overdue: still optimistic; and a node with figures of its own is judged by them, not by one request
    const early = [undefined, { elapsedMs: 500, promptTokens: 200, outputTokens: 100 }]
    assert.strictEqual(decide(work, [busy, newcomer], config, undefined, 0, 0, undefined, { waits: [300, 0], remaining: [1_000, 1_000], longest: early })?.pick.candidate.nodeId, "new")
    const known = mid({ inFlight: 1, slots: 4 })
    assert.strictEqual(decide(work, [busy, known], config, undefined, 0, 0, undefined, { waits: [300, 0], remaining: [1_000, 1_000], longest })?.pick.candidate.nodeId, "mid")
  })

  it("does not assume a node that runs its models on the CPU is as fast as the fastest GPU", () => {
    const config = resolveSollolConfig()
    const busy = fast({ inFlight: 4, slots: 4 })
    const onGpu = candidate("new", { ewmaMs: 0, perf: undefined, gpuShare: 1 })
    const onCpu = candidate("new", { ewmaMs: 0, perf: undefined, gpuShare: 0 })
    // a GPU newcomer is taken to be as fast as `fast` (1.1 s for `work`): better than waiting for fast's slot
    assert.strictEqual(decide(work, [busy, onGpu], config, undefined, 0, 0, undefined, { waits: [1_000, 0], remaining: [1_000, 0] })?.pick.candidate.nodeId, "new")
    // a CPU one starts from the configured defaults (30 tok/s: 3.3 s of decode): fast's slot is worth the wait
    const d = decide(work, [busy, onCpu], config, undefined, 0, 0, undefined, { waits: [1_000, 0], remaining: [1_000, 0] })
    assert.strictEqual(d?.pick.candidate.nodeId, "fast")
    assert.isAbove(d?.pick.scored.find((s) => s.nodeId === "new")?.score ?? 0, 3_000)
  })

  it("says in its reasoning when a node proved slower than assumed", () => {
    const newcomer = candidate("new", { ewmaMs: 0, perf: undefined, inFlight: 1, slots: 4 })
    // assumed as fast as `fast` (1.1 s for `work`), whose slot is 10 s away; its request of that size took 3.3 s
    const longest = [undefined, { elapsedMs: 3_300, promptTokens: 200, outputTokens: 100 }]
    const cs = [fast({ inFlight: 4, slots: 4 }), newcomer]
    const d = decide(work, cs, resolveSollolConfig(), undefined, 0, 0, undefined, { waits: [10_000, 0], remaining: [0, 0], longest })
    assert.strictEqual(d?.pick.candidate.nodeId, "new")
    assert.include(d?.pick.reasoning ?? "", "running 3.0× slower than assumed")
  })

  it.effect("obeys its weights", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* pickId({ ...work, priority: 1 }, [fast(), mid()]), "fast")
    }).pipe(Effect.provide(layerSollol({ weights: { priority: 0 } }))))

  it.effect("makes the same picks for the same inputs", () =>
    Effect.gen(function*() {
      const run = Effect.forEach([fast(), mid(), slow()], () => pickId(work, [candidate("x"), candidate("y")])).pipe(
        Effect.provide(layerSollol())
      )
      assert.deepStrictEqual(yield* run, yield* run)
    }))

  it.effect("tries an untried node before settling a conversation on a slow node it has seen", () =>
    Effect.gen(function*() {
      // Only the slow node has answered so far; the conversation started there. The others are new to the model.
      const conversation: RoutingIntent = { ...work, affinityKey: "conversation-1" }
      const seen = slow()
      const untried = [candidate("gpu-a", { ewmaMs: 0, perf: undefined }), candidate("gpu-b", { ewmaMs: 0, perf: undefined })]
      assert.strictEqual(yield* pickId(conversation, [seen]), NodeId("slow")) // remembered as the conversation's node
      const next = yield* pickId(conversation, [seen, ...untried])
      assert.notStrictEqual(next, NodeId("slow"))
    }).pipe(Effect.provide(layerSollol())))
})

