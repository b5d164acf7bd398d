import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream, TestClock } from "effect"
import { initialTransition, transition } from "xstate"
import * as NodeActor from "../../src/actors/NodeActor.js"
import {
  defaultNodeMachineInput,
  healthOf,
  isDrained,
  isPreferred,
  isRoutable,
  nodeMachine
} from "../../src/actors/nodeMachine.js"
import type { NodeEvent, NodeMachineInput, NodeSnapshot } from "../../src/actors/nodeMachine.js"

const input: NodeMachineInput = { ...defaultNodeMachineInput, baseCooldownMs: 1_000, maxCooldownMs: 4_000 }
const ok: NodeEvent = { type: "request.succeeded", latencyMs: 10 }
const slow: NodeEvent = { type: "request.succeeded", latencyMs: 900, slow: true }
const fail: NodeEvent = { type: "request.failed", reason: "boom" }
const probeOk: NodeEvent = { type: "probe.succeeded" }
const probeFail: NodeEvent = { type: "probe.failed" }
const cooldownElapsed = { type: "xstate.after.cooldown.node.excluded.cooldown" } as unknown as NodeEvent

const run = (events: ReadonlyArray<NodeEvent>, from?: NodeSnapshot): NodeSnapshot => {
  let [s] = from === undefined ? initialTransition(nodeMachine, input) : [from]
  for (const e of events) [s] = transition(nodeMachine, s, e)
  return s
}
const times = (n: number, e: NodeEvent) => Array.from({ length: n }, () => e)
const excludedOnce = run(times(3, fail))
const inTrial = run([cooldownElapsed, probeOk], excludedOnce)

describe("nodeMachine", () => {
  it("starts healthy, routable and preferred", () => {
    const s = run([])
    assert.strictEqual(healthOf(s), "healthy")
    assert.isTrue(isRoutable(s) && isPreferred(s))
  })

  it("excludes after maxConsecutiveFailures request failures, and a success resets the count", () => {
    assert.strictEqual(healthOf(run([fail, fail])), "healthy")
    const reset = run([fail, fail, ok, fail, fail])
    assert.notStrictEqual(healthOf(reset), "excluded")
    assert.strictEqual(reset.context.consecutiveFailures, 2)
    const s = run(times(3, fail))
    assert.strictEqual(healthOf(s), "excluded")
    assert.isFalse(isRoutable(s))
    assert.strictEqual(s.context.ejections, 1)
    assert.strictEqual(s.context.cooldownMs, 1_000)
    assert.strictEqual(s.context.lastFailureReason, "boom")
  })

  it("excludes after maxProbeFailures probe failures; a probe success resets them", () => {
    assert.strictEqual(healthOf(run([probeFail, probeOk, probeFail])), "healthy")
    assert.strictEqual(healthOf(run([probeFail, probeFail])), "excluded")
  })

  it("degrades on consecutive slow successes and comes back after good successes", () => {
    assert.strictEqual(healthOf(run([slow, ok, slow])), "healthy")
    const degraded = run([slow, slow])
    assert.strictEqual(healthOf(degraded), "degraded")
    assert.isTrue(isRoutable(degraded))
    assert.isFalse(isPreferred(degraded))
    assert.strictEqual(healthOf(run([ok, ok, slow], degraded)), "degraded")
    assert.strictEqual(healthOf(run([ok, ok, ok], degraded)), "healthy")
  })

  it("degrades when the windowed error rate passes the threshold", () => {
    // 3 failures in 6 outcomes is 0.5, not above the threshold; the next failure makes 4/7
    const s = run([ok, ok, fail, fail, ok, fail])
    assert.strictEqual(healthOf(s), "healthy")
    assert.strictEqual(s.context.consecutiveFailures, 1)
    const d = run([fail], s)
    assert.strictEqual(healthOf(d), "degraded")
    assert.strictEqual(d.context.window.filter((f) => f).length, 4)
  })

  it("stays degraded while the error rate is high, even after good successes", () => {
    // 8 failures in 12 outcomes; after 3 more successes 8/15 is still above 0.5, after 6 it is 8/18
    const d = run([ok, fail, fail, ok, fail, fail, ok, fail, fail, ok, fail, fail])
    assert.strictEqual(healthOf(d), "degraded")
    assert.strictEqual(healthOf(run([ok, ok, ok], d)), "degraded")
    assert.strictEqual(healthOf(run(times(6, ok), d)), "healthy")
  })

  it("excludes a degraded node after consecutive failures", () => {
    assert.strictEqual(healthOf(run([slow, slow, fail, fail, fail])), "excluded")
    assert.strictEqual(healthOf(run([slow, slow, probeFail, probeFail])), "excluded")
  })

  it("ignores requests and probes during cooldown", () => {
    const s = run([ok, fail, probeOk, probeFail], excludedOnce)
    assert.deepStrictEqual(s.value, { excluded: "cooldown" })
  })

  it("after the cooldown waits for a probe, unroutable, on probation", () => {
    const s = run([cooldownElapsed], excludedOnce)
    assert.strictEqual(healthOf(s), "recovering")
    assert.isFalse(isRoutable(s))
    assert.isTrue(s.hasTag("probation"))
    assert.strictEqual(healthOf(run([ok, ok, ok, ok], s)), "recovering")
  })

  it("a failed probe while recovering ejects again with a doubled cooldown", () => {
    const s = run([cooldownElapsed, probeFail], excludedOnce)
    assert.strictEqual(healthOf(s), "excluded")
    assert.strictEqual(s.context.ejections, 2)
    assert.strictEqual(s.context.cooldownMs, 2_000)
  })

  it("a successful probe opens a routable trial; trialSuccesses successes make it healthy", () => {
    assert.isTrue(isRoutable(inTrial) && inTrial.hasTag("probation") && !isPreferred(inTrial))
    assert.strictEqual(healthOf(run([ok, ok], inTrial)), "recovering")
    assert.strictEqual(healthOf(run([ok, slow, ok], inTrial)), "recovering")
    const healthy = run([ok, ok, ok], inTrial)
    assert.strictEqual(healthOf(healthy), "healthy")
    assert.strictEqual(healthy.context.ejections, 1)
  })

  it("a trial no request reaches passes after trialSuccesses more successful probes", () => {
    assert.strictEqual(healthOf(run([probeOk, probeOk], inTrial)), "recovering")
    assert.strictEqual(healthOf(run([probeOk, probeOk, probeOk], inTrial)), "healthy")
    // a probe that fails in between ends the trial
    assert.strictEqual(healthOf(run([probeOk, probeFail, probeOk], inTrial)), "excluded")
  })

  it("a failure in trial ejects with ejections + 1", () => {
    for (const e of [fail, probeFail]) {
      const s = run([ok, e], inTrial)
      assert.strictEqual(healthOf(s), "excluded")
      assert.strictEqual(s.context.ejections, 2)
    }
  })

  it("drain from any state holds the node excluded until admin.include, which needs a probe", () => {
    for (const from of [run([]), run([slow, slow]), excludedOnce, inTrial]) {
      const drained = run([{ type: "admin.drain" }, cooldownElapsed, probeOk, ok], from)
      assert.strictEqual(healthOf(drained), "excluded")
      assert.isTrue(isDrained(drained))
      const included = run([{ type: "admin.include" }], drained)
      assert.strictEqual(healthOf(included), "recovering")
      assert.isFalse(isRoutable(included))
      assert.isTrue(isRoutable(run([probeOk], included)))
    }
  })

  it("admin.include skips the rest of a cooldown; it is ignored by routable nodes", () => {
    assert.strictEqual(healthOf(run([{ type: "admin.include" }], excludedOnce)), "recovering")
    assert.strictEqual(healthOf(run([{ type: "admin.include" }])), "healthy")
  })
})

describe("NodeActor", () => {
  const failNTimes = (actor: NodeActor.NodeActor) => Effect.forEach(times(3, fail), actor.send, { discard: true })

  it.scoped("backs off exponentially between ejections up to the ceiling, driven by TestClock", () =>
    Effect.gen(function*() {
      const actor = yield* NodeActor.make(input)
      yield* failNTimes(actor)
      const cooldowns: Array<number> = []
      for (let round = 0; round < 5; round++) {
        const s = yield* actor.snapshot
        cooldowns.push(s.context.cooldownMs)
        yield* TestClock.adjust(s.context.cooldownMs - 1)
        assert.strictEqual(yield* actor.health, "excluded")
        yield* TestClock.adjust(1)
        assert.strictEqual(yield* actor.health, "recovering")
        yield* actor.send(probeFail)
      }
      assert.deepStrictEqual(cooldowns, [1_000, 2_000, 4_000, 4_000, 4_000])
    }))

  it.scoped("resets ejections after staying healthy for stableMs", () =>
    Effect.gen(function*() {
      const actor = yield* NodeActor.make(input)
      yield* failNTimes(actor)
      yield* TestClock.adjust(1_000)
      yield* Effect.forEach([probeOk, ok, ok, ok], actor.send, { discard: true })
      assert.strictEqual(yield* actor.health, "healthy")
      assert.strictEqual((yield* actor.snapshot).context.ejections, 1)
      yield* TestClock.adjust(input.stableMs)
      assert.strictEqual((yield* actor.snapshot).context.ejections, 0)
      yield* failNTimes(actor)
      assert.strictEqual((yield* actor.snapshot).context.cooldownMs, 1_000)
    }))

  it.scoped("streams health changes, current first", () =>
    Effect.gen(function*() {
      const actor = yield* NodeActor.make(input)
      const seen = yield* actor.changes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust(1)
      yield* failNTimes(actor)
      yield* TestClock.adjust(1_000)
      yield* Effect.forEach([probeOk, ok, ok, ok], actor.send, { discard: true })
      assert.deepStrictEqual([...(yield* Fiber.join(seen))], ["healthy", "excluded", "recovering", "healthy"])
      assert.isTrue(yield* actor.routable)
    }))

  it.effect("closing the scope stops the actor and its timers", () =>
    Effect.gen(function*() {
      const ended = yield* Effect.scoped(Effect.gen(function*() {
        const actor = yield* NodeActor.make(input)
        yield* failNTimes(actor)
        return actor
      }))
      yield* TestClock.adjust(10_000)
      assert.strictEqual(yield* ended.health, "excluded")
      assert.strictEqual((yield* ended.snapshot).status, "stopped")
    }))
})
