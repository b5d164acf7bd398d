/**
 * A node's health policy as a pure XState machine (Envoy's meanings, linkerd's consecutive-failure breaker).
 * No I/O and no timers other than `after`: probes and requests arrive as events; callers read tags, not states.
 */
import { assign, emit, setup } from "xstate"
import type { SnapshotFrom } from "xstate"
import type { Health } from "../domain/Health.js"

export interface NodeMachineInput {
  /** Consecutive request failures that exclude the node. Default 3. */
  readonly maxConsecutiveFailures: number
  /** Consecutive probe failures that exclude the node. Default 2. */
  readonly maxProbeFailures: number
  /** First ejection's cooldown in ms; doubles per consecutive ejection. Default 5 000. */
  readonly baseCooldownMs: number
  /** Ceiling of the cooldown in ms. Default 300 000. */
  readonly maxCooldownMs: number
  /**
   * Consecutive request successes in trial that make the node healthy again; as many more successful probes do
   * too, when no request comes (a strategy may keep a node on probation for when the others are busy). Default 3.
   */
  readonly trialSuccesses: number
  /** Outcomes kept in the sliding error-rate window. Default 20. */
  readonly windowSize: number
  /** Outcomes needed in the window before the error rate counts. Default 5. */
  readonly minWindowSamples: number
  /** Error rate in the window above which the node is degraded. Default 0.5. */
  readonly errorRateThreshold: number
  /** Consecutive slow successes that degrade a healthy node. Default 2. */
  readonly maxConsecutiveSlow: number
  /** Consecutive good (not slow) successes that bring a degraded node back to healthy. Default 3. */
  readonly recoverSuccesses: number
  /** Uninterrupted time in healthy after which ejections reset to 0 (cooldown starts over). Default 60 000. */
  readonly stableMs: number
}

export const defaultNodeMachineInput: NodeMachineInput = {
  maxConsecutiveFailures: 3,
  maxProbeFailures: 2,
  baseCooldownMs: 5_000,
  maxCooldownMs: 300_000,
  trialSuccesses: 3,
  windowSize: 20,
  minWindowSamples: 5,
  errorRateThreshold: 0.5,
  maxConsecutiveSlow: 2,
  recoverSuccesses: 3,
  stableMs: 60_000
}

export type NodeEvent =
  | { readonly type: "request.succeeded"; readonly latencyMs: number; readonly slow?: boolean }
  | { readonly type: "request.failed"; readonly reason: string }
  | { readonly type: "probe.succeeded" }
  | { readonly type: "probe.failed" }
  | { readonly type: "admin.drain" }
  | { readonly type: "admin.include" }

export interface NodeContext extends NodeMachineInput {
  readonly consecutiveFailures: number
  readonly consecutiveProbeFailures: number
  readonly consecutiveSlow: number
  /** Consecutive good successes (degraded → healthy, and trial → healthy). */
  readonly goodStreak: number
  /** Successful probes since the trial began (trial → healthy without traffic). */
  readonly trialProbes: number
  /** Ejections since the node last stayed healthy for `stableMs`. */
  readonly ejections: number
  /** The current (or last) cooldown in ms; 0 before the first ejection. */
  readonly cooldownMs: number
  /** Last outcomes, newest last: `true` = failure. */
  readonly window: ReadonlyArray<boolean>
  readonly lastFailureReason: string | undefined
}

export type HealthChanged = { readonly type: "health.changed"; readonly health: Health }

const pushOutcome = (context: NodeContext, failed: boolean): ReadonlyArray<boolean> =>
  [...context.window, failed].slice(-context.windowSize)

/** Error rate of the window, or 0 while it holds fewer than `minWindowSamples` outcomes. */
export const errorRate = (context: NodeContext, window = context.window): number =>
  window.length < context.minWindowSamples ? 0 : window.filter((f) => f).length / window.length

const isSlow = (event: NodeEvent) => event.type === "request.succeeded" && event.slow === true

/** Probe and operator events a routable node (healthy or degraded) handles the same way. */
const whileRoutable = {
  "probe.succeeded": { actions: "resetProbeFailures" },
  "probe.failed": [
    { guard: "probeBudgetSpent", target: "excluded", actions: "recordProbeFailure" },
    { actions: "recordProbeFailure" }
  ],
  "admin.drain": "#node.excluded.drained"
} as const

export const nodeMachine = setup({
  types: {
    input: {} as NodeMachineInput,
    context: {} as NodeContext,
    events: {} as NodeEvent,
    emitted: {} as HealthChanged
  },
  guards: {
    failureBudgetSpent: ({ context }) => context.consecutiveFailures + 1 >= context.maxConsecutiveFailures,
    probeBudgetSpent: ({ context }) => context.consecutiveProbeFailures + 1 >= context.maxProbeFailures,
    errorRateHigh: ({ context }) => errorRate(context, pushOutcome(context, true)) > context.errorRateThreshold,
    slowBudgetSpent: ({ context, event }) => isSlow(event) && context.consecutiveSlow + 1 >= context.maxConsecutiveSlow,
    recovered: ({ context, event }) =>
      !isSlow(event) && context.goodStreak + 1 >= context.recoverSuccesses &&
      errorRate(context, pushOutcome(context, false)) <= context.errorRateThreshold,
    /**
     * A good success on a node whose record is clean (no failure or slow streak, a full window without failures)
     * changes nothing that healthy reads (`goodStreak` only counts in degraded and trial, which reset it on
     * entry), so it is not recorded: that is most requests, and each skipped assign is a context copy saved.
     */
    nothingToRecord: ({ context, event }) =>
      !isSlow(event) && context.consecutiveFailures === 0 && context.consecutiveProbeFailures === 0 &&
      context.consecutiveSlow === 0 && context.window.length === context.windowSize && !context.window.includes(true),
    trialPassed: ({ context, event }) => !isSlow(event) && context.goodStreak + 1 >= context.trialSuccesses,
    trialProbesPassed: ({ context }) => context.trialProbes + 1 >= context.trialSuccesses
  },
  actions: {
    recordSuccess: assign(({ context, event }) => ({
      consecutiveFailures: 0,
      consecutiveProbeFailures: 0,
      consecutiveSlow: isSlow(event) ? context.consecutiveSlow + 1 : 0,
      goodStreak: isSlow(event) ? 0 : context.goodStreak + 1,
      window: pushOutcome(context, false)
    })),
    recordFailure: assign(({ context, event }) => ({
      consecutiveFailures: context.consecutiveFailures + 1,
      consecutiveSlow: 0,
      goodStreak: 0,
      window: pushOutcome(context, true),
      lastFailureReason: event.type === "request.failed" ? event.reason : context.lastFailureReason
    })),
    recordProbeFailure: assign(({ context }) => ({
      consecutiveProbeFailures: context.consecutiveProbeFailures + 1,
      lastFailureReason: "probe failed"
    })),
    resetProbeFailures: assign({ consecutiveProbeFailures: 0 }),
    /** Every exclusion starts recovery from a clean slate. */
    clearCounters: assign({
      consecutiveFailures: 0,
      consecutiveProbeFailures: 0,
      consecutiveSlow: 0,
      goodStreak: 0,
      trialProbes: 0,
      window: []
    }),
    countTrialProbe: assign(({ context }) => ({ trialProbes: context.trialProbes + 1 })),
    /** linkerd's breaker: each consecutive ejection doubles the cooldown, up to the ceiling; it never shrinks. */
    countEjection: assign(({ context }) => {
      const ejections = context.ejections + 1
      const grown = Math.min(context.baseCooldownMs * 2 ** (ejections - 1), context.maxCooldownMs)
      return { ejections, cooldownMs: Math.max(grown, ejections > 1 ? context.cooldownMs : 0) }
    }),
    resetEjections: assign({ ejections: 0 }),
    announce: emit((_, params: { health: Health }) => ({ type: "health.changed" as const, health: params.health }))
  },
  delays: {
    cooldown: ({ context }) => context.cooldownMs,
    stable: ({ context }) => context.stableMs
  }
}).createMachine({
  id: "node",
  context: ({ input }) => ({
    ...input,
    consecutiveFailures: 0,
    consecutiveProbeFailures: 0,
    consecutiveSlow: 0,
    goodStreak: 0,
    trialProbes: 0,
    ejections: 0,
    cooldownMs: 0,
    window: [],
    lastFailureReason: undefined
  }),
  initial: "healthy",
  states: {
    healthy: {
      tags: ["routable", "preferred"],
      entry: [{ type: "announce", params: { health: "healthy" } }, assign({ goodStreak: 0 })],
      after: { stable: { actions: "resetEjections" } },
      on: {
        "request.succeeded": [
          { guard: "nothingToRecord" },
          { guard: "slowBudgetSpent", target: "degraded", actions: "recordSuccess" },
          { actions: "recordSuccess" }
        ],
        "request.failed": [
          { guard: "failureBudgetSpent", target: "excluded", actions: "recordFailure" },
          { guard: "errorRateHigh", target: "degraded", actions: "recordFailure" },
          { actions: "recordFailure" }
        ],
        ...whileRoutable
      }
    },
    degraded: {
      tags: ["routable"],
      entry: [{ type: "announce", params: { health: "degraded" } }, assign({ goodStreak: 0 })],
      on: {
        "request.succeeded": [
          { guard: "recovered", target: "healthy", actions: "recordSuccess" },
          { actions: "recordSuccess" }
        ],
        "request.failed": [
          { guard: "failureBudgetSpent", target: "excluded", actions: "recordFailure" },
          { actions: "recordFailure" }
        ],
        ...whileRoutable
      }
    },
    excluded: {
      initial: "cooldown",
      entry: [{ type: "announce", params: { health: "excluded" } }, "clearCounters"],
      on: { "admin.include": "recovering" },
      states: {
        cooldown: {
          entry: "countEjection",
          after: { cooldown: "#node.recovering" },
          on: { "admin.drain": "drained" }
        },
        drained: {
          tags: ["drained"]
        }
      }
    },
    recovering: {
      tags: ["probation"],
      initial: "awaitingProbe",
      entry: [{ type: "announce", params: { health: "recovering" } }, "clearCounters"],
      on: { "admin.drain": "#node.excluded.drained" },
      states: {
        awaitingProbe: {
          on: {
            "probe.succeeded": "trial",
            "probe.failed": { target: "#node.excluded", actions: "recordProbeFailure" }
          }
        },
        trial: {
          tags: ["routable"],
          on: {
            "request.succeeded": [
              { guard: "trialPassed", target: "#node.healthy", actions: "recordSuccess" },
              { actions: "recordSuccess" }
            ],
            "request.failed": { target: "#node.excluded", actions: "recordFailure" },
            "probe.succeeded": [
              { guard: "trialProbesPassed", target: "#node.healthy" },
              { actions: "countTrialProbe" }
            ],
            "probe.failed": { target: "#node.excluded", actions: "recordProbeFailure" }
          }
        }
      }
    }
  }
})

export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>

/**
 * The domain health of a snapshot: its top-level state, read from the state value (`healthy` and `degraded` are
 * atomic, `excluded` and `recovering` compound). It runs on every request, where `matches` would build a value per call.
 */
export const healthOf = (snapshot: NodeSnapshot): Health => {
  const top = snapshot.value
  if (typeof top === "string") return top
  return "excluded" in top ? "excluded" : "recovering"
}

/** Routable and probation questions, by tag. */
export const isRoutable = (snapshot: NodeSnapshot): boolean => snapshot.hasTag("routable")
export const isPreferred = (snapshot: NodeSnapshot): boolean => snapshot.hasTag("preferred")
export const isDrained = (snapshot: NodeSnapshot): boolean => snapshot.hasTag("drained")
