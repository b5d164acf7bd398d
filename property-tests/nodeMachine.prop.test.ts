/** Laws of the node machine over random event sequences, folded with XState's pure transition API. */
import fc from "fast-check"
import { describe, it } from "vitest"
import { initialTransition, transition } from "xstate"
import { healthOf, isDrained, isRoutable, nodeMachine } from "../src/actors/nodeMachine.js"
import type { NodeEvent, NodeMachineInput, NodeSnapshot } from "../src/actors/nodeMachine.js"

/** `tick` fires the earliest pending `after` timer, as the clock would. */
type Step = NodeEvent | { readonly type: "tick" }

const inputArb: fc.Arbitrary<NodeMachineInput> = fc
  .record({
    maxConsecutiveFailures: fc.integer({ min: 1, max: 4 }),
    maxProbeFailures: fc.integer({ min: 1, max: 3 }),
    baseCooldownMs: fc.integer({ min: 1, max: 5_000 }),
    ceilingFactor: fc.integer({ min: 1, max: 64 }),
    trialSuccesses: fc.integer({ min: 1, max: 4 }),
    windowSize: fc.integer({ min: 1, max: 10 }),
    minWindowSamples: fc.integer({ min: 1, max: 10 }),
    errorRateThreshold: fc.double({ min: 0, max: 1, noNaN: true }),
    maxConsecutiveSlow: fc.integer({ min: 1, max: 3 }),
    recoverSuccesses: fc.integer({ min: 1, max: 4 }),
    stableMs: fc.integer({ min: 1, max: 100_000 })
  })
  .map(({ ceilingFactor, ...rest }) => ({ ...rest, maxCooldownMs: rest.baseCooldownMs * ceilingFactor }))

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("request.succeeded" as const),
      latencyMs: fc.nat(5_000),
      slow: fc.boolean()
    })
  },
  { weight: 4, arbitrary: fc.constant({ type: "request.failed" as const, reason: "boom" }) },
  { weight: 3, arbitrary: fc.constantFrom<Step>({ type: "probe.succeeded" }, { type: "probe.failed" }) },
  { weight: 1, arbitrary: fc.constantFrom<Step>({ type: "admin.drain" }, { type: "admin.include" }) },
  { weight: 3, arbitrary: fc.constant<Step>({ type: "tick" }) }
)

/** Long sequences (fast-check's default size would keep them near 10 events, too short for repeated ejections). */
const stepsArb = fc.array(stepArb, { minLength: 10, maxLength: 150, size: "max" })

interface Timer {
  readonly id: string
  readonly event: NodeEvent
  readonly due: number
}

/** Folds `steps`, calling `check(previous, event, next)` after each real event; timers come from the actions. */
const fold = (
  input: NodeMachineInput,
  steps: ReadonlyArray<Step>,
  check: (previous: NodeSnapshot, event: NodeEvent, next: NodeSnapshot) => void
) => {
  let now = 0
  let timers: ReadonlyArray<Timer> = []
  const apply = (actions: ReadonlyArray<{ readonly type: string; readonly params?: unknown }>) => {
    for (const action of actions) {
      const p = action.params as { id?: string; sendId?: string; delay?: number; event?: NodeEvent } | undefined
      if (action.type === "xstate.raise" && p?.delay !== undefined && p.id !== undefined && p.event !== undefined) {
        timers = [...timers.filter((t) => t.id !== p.id), { id: p.id, event: p.event, due: now + p.delay }]
      } else if (action.type === "xstate.cancel") {
        timers = timers.filter((t) => t.id !== p?.sendId)
      }
    }
  }
  let [s, actions] = initialTransition(nodeMachine, input)
  apply(actions)
  for (const step of steps) {
    let event: NodeEvent
    if (step.type === "tick") {
      const next = [...timers].sort((a, b) => a.due - b.due)[0]
      if (next === undefined) continue
      timers = timers.filter((t) => t !== next)
      now = next.due
      event = next.event
    } else {
      event = step
    }
    const previous = s
    ;[s, actions] = transition(nodeMachine, s, event)
    apply(actions)
    check(previous, event, s)
  }
}

const params = { seed: 20_261_127, numRuns: 200 }
const law = (check: (input: NodeMachineInput) => Parameters<typeof fold>[2]) =>
  fc.assert(
    fc.property(inputArb, stepsArb, (input, steps) => fold(input, steps, check(input))),
    params
  )
const ensure = (ok: boolean, why: string) => {
  if (!ok) throw new Error(why)
}

describe("nodeMachine laws", () => {
  it("an excluded node is never routable", () =>
    law(() => (_, __, s) => ensure(!(healthOf(s) === "excluded" && isRoutable(s)), "excluded and routable")))

  it("cooldown never shrinks across consecutive ejections and stays within [base, ceiling]", () =>
    law((input) => (previous, _, s) => {
      if (s.context.ejections === previous.context.ejections + 1) {
        const { cooldownMs } = s.context
        ensure(cooldownMs >= input.baseCooldownMs && cooldownMs <= input.maxCooldownMs, "out of range")
        if (previous.context.ejections >= 1) ensure(cooldownMs >= previous.context.cooldownMs, "cooldown shrank")
      }
    }))

  it("recovery (unroutable → routable) always passes through a successful probe", () =>
    law(() => (previous, event, s) => {
      if (!isRoutable(previous) && isRoutable(s)) {
        ensure(event.type === "probe.succeeded", `routable after ${event.type}`)
      }
    }))

  it("a drained node stays unroutable until admin.include", () =>
    fc.assert(
      fc.property(inputArb, stepsArb, (input, steps) => {
        let drained = false
        fold(input, steps, (_, event, s) => {
          if (event.type === "admin.drain") drained = true
          if (event.type === "admin.include") drained = false
          if (drained) ensure(!isRoutable(s) && isDrained(s) && healthOf(s) === "excluded", "drained node routable")
        })
      }),
      params
    ))
})
