/** Settings of the `sollol` strategy: scorer weights and the constants each scorer documents. */
import { Schema } from "effect"

/** Multipliers of each scorer's cost (ms-equivalent). 0 turns a scorer off. */
export interface SollolWeights {
  /** Expected completion time (queue + load + prefill + decode). Default 1. */
  readonly completionTime: number
  /** Health and success-rate penalties. Default 1. */
  readonly health: number
  /** Priority alignment. Default 1. */
  readonly priority: number
  /** Conversation affinity bonus. Default 1. */
  readonly affinity: number
  /** Reload cost when load options differ from the loaded runner's. Default 1. */
  readonly options: number
}

export interface SollolConfig {
  readonly weights: SollolWeights
  /** Rates for a node with no figures when no other candidate has observed ones either. */
  readonly defaults: {
    /** Default 500 tok/s. */
    readonly prefillTps: number
    /** Default 30 tok/s. */
    readonly decodeTps: number
    /** Default 5 000 ms. */
    readonly loadMs: number
  }
  /**
   * A saturated node stays a candidate (the request waits for its slot) when its expected completion, queue
   * included, is below this share of the best free node's. Default 1 (the real wait counts the requests waiting
   * ahead); 0.75 left a margin for them with the flat queue guess.
   */
  readonly waitRatio: number
  /**
   * A free node more than this many times slower (service time) than the fastest candidate is no reason to stop
   * waiting for a saturated faster node until the request has waited as long as that node would take: on hetero3
   * a CPU box turns a 1 s chat into 7 s. Default 4.
   */
  readonly spillTolerance: number
  /**
   * Score a busy node's wait from the expected ends of the requests sollol sent there and the requests waiting for
   * it ahead of this one (occupancy.ts), instead of a flat share of its latency. Default true.
   */
  readonly realWaits: boolean
  /**
   * Weight of the delay one more stream adds to the requests already running on a node (their expected remaining
   * time × the extra slowdown), known only with `realWaits`. Default 1.
   */
  readonly contentionWeight: number
  /**
   * Share of the time already waited added to a busy node's estimate (see `worthWaiting`). Default 0: with
   * `realWaits` the busy node's wait is known; 1 (the guess that a request waits as long again) suits the flat one.
   */
  readonly waitedWeight: number
  /** Per-stream slowdown with n requests running on a node: time × n^exponent (Ollama slots share one GPU). 0.25. */
  readonly contentionExponent: number
  /** Health penalties, as fractions of the candidate's estimated completion time. */
  readonly health: {
    /** Degraded node. Default 0.5. */
    readonly degraded: number
    /** Recovering (probation) node. Default 1. */
    readonly probation: number
    /** Per recent failure (decayed count), up to `maxFailures`. Default 0.2. */
    readonly perFailure: number
    /** Cap on counted recent failures. Default 10. */
    readonly maxFailures: number
    /** Times the failure rate (1 − success rate). Default 2. */
    readonly failureRate: number
    /** Floor of the completion time the fractions apply to, so short requests are penalised too. Default 100 ms. */
    readonly minBaseMs: number
  }
  readonly priority: {
    /** Priorities from this one up amplify speed differences. Default 8. */
    readonly highFrom: number
    /** Priorities up to this one leave the fastest nodes free. Default 3. */
    readonly lowTo: number
    /** At priority 10, extra cost per ms of service time above the fastest candidate's. Default 1. */
    readonly highAmplify: number
    /** At priority 1, cost per ms of service time below the slowest candidate's. Default 1.25. */
    readonly lowReserve: number
    /** Low-priority work moves to nodes at most this many times slower. Default 4. */
    readonly lowTolerance: number
  }
  readonly affinity: {
    /** Conversation keys remembered (generational LRU). Default 10 000. */
    readonly capacity: number
    /** Bonus for the node holding the conversation, in ms. Default 250. */
    readonly minBonusMs: number
    /** Plus this share of the prompt's prefill time there (the prefix its cache saves). Default 0.8. */
    readonly prefixShare: number
  }
}

export const defaultSollolConfig: SollolConfig = {
  weights: { completionTime: 1, health: 1, priority: 1, affinity: 1, options: 1 },
  defaults: { prefillTps: 500, decodeTps: 30, loadMs: 5_000 },
  contentionExponent: 0.25,
  realWaits: true,
  contentionWeight: 1,
  waitedWeight: 0,
  waitRatio: 1,
  spillTolerance: 4,
  health: { degraded: 0.5, probation: 1, perFailure: 0.2, maxFailures: 10, failureRate: 2, minBaseMs: 100 },
  priority: { highFrom: 8, lowTo: 3, highAmplify: 1, lowReserve: 1.25, lowTolerance: 4 },
  affinity: { capacity: 10_000, minBonusMs: 250, prefixShare: 0.8 }
}

/** A partial config: any group may be given in part (the config file's `sollol:` section, see below). */
export type SollolConfigInput = typeof SollolConfigSchema.Type

export const resolveSollolConfig = (input: SollolConfigInput = {}): SollolConfig => {
  const d = defaultSollolConfig
  return {
    weights: { ...d.weights, ...input.weights },
    defaults: { ...d.defaults, ...input.defaults },
    contentionExponent: input.contentionExponent ?? d.contentionExponent,
    realWaits: input.realWaits ?? d.realWaits,
    contentionWeight: input.contentionWeight ?? d.contentionWeight,
    waitedWeight: input.waitedWeight ?? d.waitedWeight,
    waitRatio: input.waitRatio ?? d.waitRatio,
    spillTolerance: input.spillTolerance ?? d.spillTolerance,
    health: { ...d.health, ...input.health },
    priority: { ...d.priority, ...input.priority },
    affinity: { ...d.affinity, ...input.affinity }
  }
}

const Finite = Schema.Number.pipe(Schema.finite())
const NonNegative = Finite.pipe(Schema.nonNegative())
const Positive = Finite.pipe(Schema.positive())
const AtLeastOne = Finite.pipe(Schema.greaterThanOrEqualTo(1))
const PriorityLevel = Schema.Int.pipe(Schema.between(1, 10))
/** Optional and, when present, never `undefined` (under exactOptionalPropertyTypes, as the layer's input wants). */
const opt = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * The `sollol:` section of the config file: any field may be left out (it keeps its default above). Validated
 * with the rest of the config, so a bad weight stops startup with a message naming it.
 */
export const SollolConfigSchema = Schema.Struct({
  weights: opt(Schema.Struct({
    completionTime: opt(Finite),
    health: opt(Finite),
    priority: opt(Finite),
    affinity: opt(Finite),
    options: opt(Finite)
  })),
  defaults: opt(Schema.Struct({
    prefillTps: opt(Positive),
    decodeTps: opt(Positive),
    loadMs: opt(NonNegative)
  })),
  contentionExponent: opt(Finite.pipe(Schema.between(0, 1))),
  realWaits: opt(Schema.Boolean),
  contentionWeight: opt(NonNegative),
  waitedWeight: opt(NonNegative),
  waitRatio: opt(Positive),
  spillTolerance: opt(AtLeastOne),
  health: opt(Schema.Struct({
    degraded: opt(NonNegative),
    probation: opt(NonNegative),
    perFailure: opt(NonNegative),
    maxFailures: opt(NonNegative),
    failureRate: opt(NonNegative),
    minBaseMs: opt(NonNegative)
  })),
  priority: opt(Schema.Struct({
    highFrom: opt(PriorityLevel),
    lowTo: opt(PriorityLevel),
    highAmplify: opt(NonNegative),
    lowReserve: opt(NonNegative),
    lowTolerance: opt(AtLeastOne)
  })),
  affinity: opt(Schema.Struct({
    capacity: opt(Schema.Int.pipe(Schema.positive())),
    minBonusMs: opt(NonNegative),
    prefixShare: opt(NonNegative)
  }))
})
