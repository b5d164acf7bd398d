/**
 * What the gateway learns from Ollama's own timing fields: per (node, model) rates, per (model, task type) output
 * lengths, per node parallel slots. It starts from configured priors; scoring reads it through `Candidate.perf`.
 */
import { Clock, Context, Effect, HashMap, Layer, Option } from "effect"
import type { NodeModelPerf } from "../domain/Candidate.js"
import type { NodeId } from "../domain/NodeId.js"
import type { TaskType } from "../domain/Request.js"
import type { OllamaTimings } from "./timings.js"

/** Prior rates for a model on any node, from configuration. */
export interface ModelPrior {
  readonly prefillTps?: number
  readonly decodeTps?: number
  readonly loadMs?: number
  readonly ttftMs?: number
}

export interface LearningConfig {
  /** Observations after which an old average weighs half. Default 8. */
  readonly halfLifeSamples: number
  /** Time after which an old average weighs half at the next observation and a failure is half forgiven. 10 min. */
  readonly halfLifeMs: number
  /** `load_duration` from which a response counts as a cold load (so its load time is learned). Default 500 ms. */
  readonly coldLoadMs: number
  /** Configured parallel slots by node id; always win over learned ones. Default none. */
  readonly slots: Readonly<Record<string, number>>
  /** Largest learned slot count. Default 16. */
  readonly maxSlots: number
  /** Observations a concurrency level needs before slot learning trusts it. Default 3. */
  readonly minSlotSamples: number
  /** Aggregate decode growth (fraction) that justifies one more slot. Default 0.1. */
  readonly slotGrowth: number
  /**
   * A prefill sample counts at most this many times the current average: Ollama's `prompt_eval_count` includes a
   * cached prefix its `prompt_eval_duration` does not, so follow-up turns show inflated rates. Default 4.
   */
  readonly maxPrefillJump: number
  /** Per-model priors by normalised model name. Default none. */
  readonly priors: Readonly<Record<string, ModelPrior>>
  /** Figures for fields neither observed nor given a prior. Default 500 / 30 tok/s, 5 000 ms load, 200 ms TTFT. */
  readonly fallback: Required<ModelPrior>
}

export const defaultLearningConfig: LearningConfig = {
  halfLifeSamples: 8,
  halfLifeMs: 600_000,
  coldLoadMs: 500,
  slots: {},
  maxSlots: 16,
  minSlotSamples: 3,
  slotGrowth: 0.1,
  maxPrefillJump: 4,
  priors: {},
  fallback: { prefillTps: 500, decodeTps: 30, loadMs: 5_000, ttftMs: 200 }
}

/** One response's outcome. `concurrency`: requests in flight on the node when it was sent, itself included. */
export interface Observation {
  readonly nodeId: NodeId
  readonly model: string
  readonly taskType: TaskType
  readonly timings?: OllamaTimings | undefined
  readonly ok: boolean
  readonly ttftMs?: number | undefined
  readonly concurrency: number
}

/** A decaying average: `value` after `n` observations, the last at `at` (ms on Effect's clock). */
export interface Ewma {
  readonly value: number
  readonly at: number
  readonly n: number
}

export interface PerfEntry {
  readonly nodeId: string
  readonly model: string
  readonly prefillTps?: Ewma | undefined
  readonly decodeTps?: Ewma | undefined
  readonly loadMs?: Ewma | undefined
  readonly ttftMs?: Ewma | undefined
  readonly success: Ewma
}

/** Plain JSON for persistence. */
export interface LearningSnapshot {
  readonly version: 1
  readonly perf: ReadonlyArray<PerfEntry>
  readonly outputs: ReadonlyArray<{ readonly model: string; readonly taskType: TaskType; readonly tokens: Ewma }>
  readonly levels: ReadonlyArray<
    { readonly nodeId: string; readonly concurrency: number; readonly bestTps: number; readonly n: number }
  >
}

interface Level {
  readonly bestTps: number
  readonly n: number
}

interface State {
  readonly perf: HashMap.HashMap<string, PerfEntry>
  readonly outputs: HashMap.HashMap<string, Ewma>
  /** `nodeId` → concurrency level → best aggregate decode tok/s seen there. */
  readonly levels: HashMap.HashMap<string, HashMap.HashMap<number, Level>>
}

const key = (a: string, b: string) => `${a}\u0000${b}`

/**
 * EWMA with two decays: the old value weighs 2^(-1/halfLifeSamples) per observation and 2^(-Δt/halfLifeMs) for the
 * time since it was last updated, so a long-idle average follows the next observation closely.
 */
export const blend = (prev: Ewma | undefined, x: number, now: number, c: LearningConfig): Ewma => {
  if (prev === undefined) return { value: x, at: now, n: 1 }
  const w = 2 ** (-1 / c.halfLifeSamples) * 2 ** (-Math.max(0, now - prev.at) / c.halfLifeMs)
  return { value: w * prev.value + (1 - w) * x, at: now, n: prev.n + 1 }
}

/**
 * Learned slots (after tower's and Little's reasoning on throughput vs concurrency): 1. take the levels with at
 * least `minSlotSamples` observations, in order; 2. walk up while a level's best aggregate decode rate beats the
 * last accepted one by more than `slotGrowth`; 3. if even the highest observed level still grew, offer one more
 * slot so a higher level can be observed; 4. bound to 1..maxSlots.
 */
export const learnSlots = (
  levels: ReadonlyArray<{ readonly concurrency: number; readonly bestTps: number; readonly n: number }>,
  c: LearningConfig
): number | undefined => {
  const known = levels.filter((l) => l.n >= c.minSlotSamples).sort((a, b) => a.concurrency - b.concurrency)
  const first = known[0]
  if (first === undefined) return undefined
  let slots = first.concurrency
  let best = first.bestTps
  let grewToTop = known.length === 1
  for (const [i, l] of known.slice(1).entries()) {
    if (l.bestTps <= best * (1 + c.slotGrowth)) break
    slots = l.concurrency
    best = l.bestTps
    grewToTop = i === known.length - 2
  }
  return Math.min(Math.max(grewToTop ? slots + 1 : slots, 1), c.maxSlots)
}

const record = (s: State, o: Observation, now: number, c: LearningConfig): State => {
  const t = o.timings
  const k = key(o.nodeId, o.model)
  const prev = Option.getOrUndefined(HashMap.get(s.perf, k))
  const loadMs = t === undefined ? 0 : t.loadNs / 1e6
  const cold = loadMs >= c.coldLoadMs
  const rawPrefill = t !== undefined && t.promptEvalNs > 0 && t.promptEvalCount > 0
    ? t.promptEvalCount / (t.promptEvalNs / 1e9)
    : undefined
  const prefill = rawPrefill !== undefined && prev?.prefillTps !== undefined
    ? Math.min(rawPrefill, prev.prefillTps.value * c.maxPrefillJump)
    : rawPrefill
  const decode = t !== undefined && t.evalNs > 0 && t.evalCount > 0 ? t.evalCount / (t.evalNs / 1e9) : undefined
  const ttft = o.ttftMs !== undefined
    ? Math.max(0, o.ttftMs - (cold ? loadMs : 0))
    : t !== undefined && t.promptEvalNs > 0
    ? (t.promptEvalNs + (cold ? 0 : t.loadNs)) / 1e6
    : undefined
  const step = (e: Ewma | undefined, x: number | undefined) => x === undefined ? e : blend(e, x, now, c)
  const entry: PerfEntry = {
    nodeId: o.nodeId,
    model: o.model,
    prefillTps: step(prev?.prefillTps, prefill),
    decodeTps: step(prev?.decodeTps, decode),
    loadMs: step(prev?.loadMs, cold ? loadMs : undefined),
    ttftMs: step(prev?.ttftMs, ttft),
    success: blend(prev?.success ?? { value: 1, at: now, n: 0 }, o.ok ? 1 : 0, now, c)
  }
  let { levels, outputs } = s
  if (o.ok && t !== undefined && decode !== undefined) {
    const ok = key(o.model, o.taskType)
    outputs = HashMap.set(outputs, ok, blend(Option.getOrUndefined(HashMap.get(outputs, ok)), t.evalCount, now, c))
    const level = Math.min(Math.max(Math.round(o.concurrency), 1), c.maxSlots)
    const byLevel = Option.getOrElse(HashMap.get(levels, o.nodeId), () => HashMap.empty<number, Level>())
    const was = Option.getOrUndefined(HashMap.get(byLevel, level))
    // the wait for a parallel slot (in total_duration, outside load and evals) slows the stream: past the node's
    // real slots requests queue inside it, and per-stream decode alone would look like aggregate growth
    const slotWaitNs = Math.max(0, t.totalNs - t.loadNs - t.promptEvalNs - t.evalNs)
    const bestTps = Math.max(was?.bestTps ?? 0, (t.evalCount / ((t.evalNs + slotWaitNs) / 1e9)) * level)
    levels = HashMap.set(levels, o.nodeId, HashMap.set(byLevel, level, { bestTps, n: (was?.n ?? 0) + 1 }))
  }
  return { perf: HashMap.set(s.perf, k, entry), outputs, levels }
}

/** A failure is forgiven with time: the missing share of the success rate halves every `halfLifeMs` without news. */
const forgiven = (e: Ewma, now: number, c: LearningConfig): number =>
  1 - (1 - e.value) * 2 ** (-Math.max(0, now - e.at) / c.halfLifeMs)

export class LearningStore extends Context.Tag("sollol/LearningStore")<LearningStore, {
  /** Records one response (successful or not). */
  readonly observe: (o: Observation) => Effect.Effect<void>
  /** Learned figures, with priors and then `fallback` for fields not observed; undefined with neither. */
  readonly perf: (nodeId: NodeId, model: string) => Effect.Effect<NodeModelPerf | undefined>
  /** `perf` as of `now`, read synchronously (the per-request scoring path reads it for every candidate). */
  readonly perfAt: (nodeId: NodeId, model: string, now: number) => NodeModelPerf | undefined
  /** Learned mean output tokens for (model, task type). */
  readonly outputEstimate: (model: string, taskType: TaskType) => Effect.Effect<number | undefined>
  /** A synchronous view of `outputEstimate` as of now, for `analyzeBody`'s `outputEstimate` hint. */
  readonly outputEstimator: Effect.Effect<(model: string, taskType: TaskType) => number | undefined>
  /** Configured slots, else learned ones, else undefined. */
  readonly slots: (nodeId: NodeId) => Effect.Effect<number | undefined>
  /** `slots`, read synchronously; learned counts are cached until the node's next observation. */
  readonly slotsNow: (nodeId: NodeId) => number | undefined
  /** Adds or replaces per-model priors. */
  readonly seed: (priors: Readonly<Record<string, ModelPrior>>) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<LearningSnapshot>
  /** Replaces what was learned with a snapshot (priors and configured slots stay). */
  readonly restore: (snapshot: LearningSnapshot) => Effect.Effect<void>
}>() {}

const estimateIn = (s: State, model: string, taskType: TaskType): number | undefined =>
  Option.getOrUndefined(Option.map(HashMap.get(s.outputs, key(model, taskType)), (e) => Math.round(e.value)))

const emptyState: State = { perf: HashMap.empty(), outputs: HashMap.empty(), levels: HashMap.empty() }

export const make = (config: Partial<LearningConfig> = {}) =>
  Effect.sync(() => {
    const c: LearningConfig = { ...defaultLearningConfig, ...config }
    // Owned by this store; replaced (never mutated) inside Effect.sync, read synchronously by the scoring path.
    let state = emptyState
    let priors: Readonly<Record<string, ModelPrior>> = c.priors
    // Learned slot counts by node; a node's entry is dropped when its levels change.
    const learnedSlots = new Map<string, number | undefined>()

    const perfAt = (nodeId: NodeId, model: string, now: number): NodeModelPerf | undefined => {
      const entry = Option.getOrUndefined(HashMap.get(state.perf, key(nodeId, model)))
      const prior = priors[model]
      if (entry === undefined && prior === undefined) return undefined
      const f = c.fallback
      return {
        prefillTps: entry?.prefillTps?.value ?? prior?.prefillTps ?? f.prefillTps,
        decodeTps: entry?.decodeTps?.value ?? prior?.decodeTps ?? f.decodeTps,
        loadMs: entry?.loadMs?.value ?? prior?.loadMs ?? f.loadMs,
        ttftMs: entry?.ttftMs?.value ?? prior?.ttftMs ?? f.ttftMs,
        successRate: entry === undefined ? 1 : forgiven(entry.success, now, c),
        samples: entry?.success.n ?? 0
      }
    }

    const levelsOf = (s: State, nodeId: string) =>
      Array.from(Option.getOrElse(HashMap.get(s.levels, nodeId), () => HashMap.empty()))
        .map(([concurrency, l]) => ({ nodeId, concurrency, bestTps: l.bestTps, n: l.n }))

    const levelOf = (s: State, o: Observation): Level | undefined => {
      const byLevel = Option.getOrUndefined(HashMap.get(s.levels, o.nodeId))
      const level = Math.min(Math.max(Math.round(o.concurrency), 1), c.maxSlots)
      return byLevel === undefined ? undefined : Option.getOrUndefined(HashMap.get(byLevel, level))
    }

    const slotsNow = (nodeId: NodeId): number | undefined => {
      const configured = c.slots[nodeId]
      if (configured !== undefined) return configured
      if (learnedSlots.has(nodeId)) return learnedSlots.get(nodeId)
      const learned = learnSlots(levelsOf(state, nodeId), c)
      learnedSlots.set(nodeId, learned)
      return learned
    }

    return LearningStore.of({
      observe: (o) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const before = levelOf(state, o)
          state = record(state, o, now, c)
          const after = levelOf(state, o)
          // learnSlots only reads levels with enough samples: forget the count when one of those changed.
          const known = after !== undefined && after.n >= c.minSlotSamples
          if (known && (before === undefined || before.n < c.minSlotSamples || before.bestTps !== after.bestTps)) {
            learnedSlots.delete(o.nodeId)
          }
        }),
      perf: (nodeId, model) => Effect.map(Clock.currentTimeMillis, (now) => perfAt(nodeId, model, now)),
      perfAt,
      outputEstimate: (model, taskType) => Effect.sync(() => estimateIn(state, model, taskType)),
      outputEstimator: Effect.sync(() => {
        const s = state
        return (model: string, taskType: TaskType) => estimateIn(s, model, taskType)
      }),
      slots: (nodeId) => Effect.sync(() => slotsNow(nodeId)),
      slotsNow,
      seed: (more) =>
        Effect.sync(() => {
          priors = { ...priors, ...more }
        }),
      snapshot: Effect.sync((): LearningSnapshot => ({
        version: 1,
        perf: Array.from(HashMap.values(state.perf)),
        outputs: Array.from(state.outputs).map(([k, tokens]) => {
          const [model = "", taskType = "generation"] = k.split("\u0000")
          return { model, taskType: taskType as TaskType, tokens }
        }),
        levels: Array.from(HashMap.keys(state.levels)).flatMap((nodeId) => levelsOf(state, nodeId))
      })),
      restore: (snap) =>
        Effect.sync(() => {
          learnedSlots.clear()
          state = snap.version !== 1 ? emptyState : {
            perf: HashMap.fromIterable(snap.perf.map((e) => [key(e.nodeId, e.model), e] as const)),
            outputs: HashMap.fromIterable(snap.outputs.map((o) => [key(o.model, o.taskType), o.tokens] as const)),
            levels: snap.levels.reduce(
              (acc, l) =>
                HashMap.modifyAt(acc, l.nodeId, (m) =>
                  Option.some(HashMap.set(Option.getOrElse(m, () => HashMap.empty()), l.concurrency, {
                    bestTps: l.bestTps,
                    n: l.n
                  }))),
              HashMap.empty<string, HashMap.HashMap<number, Level>>()
            )
          }
        })
    })
  })

export const layer = (config: Partial<LearningConfig> = {}): Layer.Layer<LearningStore> =>
  Layer.effect(LearningStore, make(config))
