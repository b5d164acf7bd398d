/**
 * What the gateway learns from Ollama's own timing fields: per (node, model) rates, per (model, task type) output
 * lengths, per node parallel slots. It starts from configured priors; scoring reads it through `Candidate.perf`.
 */
import { Clock, Context, Effect, Layer } from "effect"
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
  /**
   * Slots offered at least until a level closes, like the registry's default (`routing.defaultSlots`): a node that
   * has only been seen lightly loaded is not cut below it. Default 4.
   */
  readonly initialSlots: number
  /** Largest learned slot count. Default 16. */
  readonly maxSlots: number
  /**
   * Recent waits for a slot at a concurrency level that close it (no more slots offered), as a decayed count: three
   * waits in a row weigh ≈ 2.76 with the default half-life. Default 2.5.
   */
  readonly minSlotWaits: number
  /** A slot wait (total − load − prompt eval − eval) counts from this many ms. Default 50. */
  readonly slotWaitMs: number
  /** …and from this share of the request's own prompt eval + eval time. Default 0.1. */
  readonly slotWaitShare: number
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
  initialSlots: 4,
  maxSlots: 16,
  minSlotWaits: 2.5,
  slotWaitMs: 50,
  slotWaitShare: 0.1,
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
  readonly levels: ReadonlyArray<LevelEntry>
}

/**
 * What was seen of requests sent to a node with `concurrency` in flight (themselves included): `ran` and `waited`
 * are decayed counts (as `blend` weighs) of those that started at once and of those that waited for a slot, the last
 * at `at`; `bestTps` is the best aggregate decode rate seen there and `n` the observations (both informative only).
 * Snapshots from before `ran`/`waited` existed restore as no evidence.
 */
export interface LevelEntry {
  readonly nodeId: string
  readonly concurrency: number
  readonly bestTps: number
  readonly n: number
  readonly ran?: number
  readonly waited?: number
  readonly at?: number
}

interface Level {
  readonly bestTps: number
  readonly n: number
  readonly ran: number
  readonly waited: number
  readonly at: number
}

/**
 * What was learned: maps owned by one store, whose entries are immutable values replaced on each observation. They
 * change only in synchronous steps (`record`, `restore`) and are read on every request, so plain Maps serve: an
 * immutable map would copy a path and hash the key on every write and every read.
 */
interface State {
  readonly perf: Map<string, PerfEntry>
  readonly outputs: Map<string, Ewma>
  /** `nodeId` → concurrency level → what requests sent at that level saw. */
  readonly levels: Map<string, Map<number, Level>>
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
 * Learned slots: how many requests the node really runs in parallel, from whether requests waited inside it for a
 * slot. A request sent with c in flight (itself included) that started at once shows the node ran c together; one
 * that waited shows it runs fewer than c.
 * 1. open levels: some request started at once there, and no more waited than started (`ran ≥ waited`, decayed);
 * 2. L = the highest open level; none → undefined (the configured default applies);
 * 3. the level above L is closed when its recent waits (`waited`, halved every `halfLifeMs` since its last
 *    observation) reach `minSlotWaits` and outnumber the starts: then L; otherwise offer L + 1, at least
 *    `initialSlots`, so the gateway can send more and find out (a changed node is probed again once old waits fade);
 * 4. bound to 1..maxSlots.
 */
export const learnSlots = (
  levels: ReadonlyArray<Pick<LevelEntry, "concurrency" | "ran" | "waited" | "at">>,
  c: LearningConfig,
  now: number
): number | undefined => {
  let top = 0
  for (const l of levels) {
    const ran = l.ran ?? 0
    if (ran > 0 && ran >= (l.waited ?? 0) && l.concurrency > top) top = l.concurrency
  }
  if (top === 0) return undefined
  const above = levels.find((l) => l.concurrency === top + 1)
  const recentWaits = above === undefined ? 0 : (above.waited ?? 0) * 2 ** (-Math.max(0, now - (above.at ?? now)) / c.halfLifeMs)
  const closed = above !== undefined && recentWaits >= c.minSlotWaits && (above.waited ?? 0) > (above.ran ?? 0)
  return Math.min(Math.max(closed ? top : Math.max(top + 1, c.initialSlots), 1), c.maxSlots)
}

/** The slot wait Ollama's timings show: time in total_duration outside load, prompt eval and eval. */
export const slotWaitNs = (t: OllamaTimings): number => Math.max(0, t.totalNs - t.loadNs - t.promptEvalNs - t.evalNs)

/** A level after one more request sent there, which started at once or `waited`. */
const countAt = (was: Level | undefined, waited: boolean, aggregateTps: number, now: number, c: LearningConfig): Level => {
  const w = was === undefined ? 0 : 2 ** (-1 / c.halfLifeSamples) * 2 ** (-Math.max(0, now - was.at) / c.halfLifeMs)
  return {
    bestTps: Math.max(was?.bestTps ?? 0, aggregateTps),
    n: (was?.n ?? 0) + 1,
    ran: w * (was?.ran ?? 0) + (waited ? 0 : 1),
    waited: w * (was?.waited ?? 0) + (waited ? 1 : 0),
    at: now
  }
}

/** Records one observation in `s`; true when the node's slot levels changed (its learned slots are then stale). */
const record = (s: State, o: Observation, now: number, c: LearningConfig): boolean => {
  const t = o.timings
  const k = key(o.nodeId, o.model)
  const prev = s.perf.get(k)
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
  s.perf.set(k, entry)
  if (o.ok && t !== undefined && decode !== undefined) {
    const ok = key(o.model, o.taskType)
    s.outputs.set(ok, blend(s.outputs.get(ok), t.evalCount, now, c))
  }
  // a cold load hides any slot wait inside load_duration: such a response says nothing about slots; nor does an
  // embedding, whose runner has its own single slot and whose time is known only as total − load
  if (!o.ok || t === undefined || t.evalNs + t.promptEvalNs <= 0 || cold || o.taskType === "embedding") return false
  const level = Math.min(Math.max(Math.round(o.concurrency), 1), c.maxSlots + 1)
  let byLevel = s.levels.get(o.nodeId)
  if (byLevel === undefined) s.levels.set(o.nodeId, byLevel = new Map())
  const waitNs = slotWaitNs(t)
  const waited = waitNs >= Math.max(c.slotWaitMs * 1e6, c.slotWaitShare * (t.promptEvalNs + t.evalNs))
  const aggregateTps = t.evalNs > 0 ? (t.evalCount / ((t.evalNs + waitNs) / 1e9)) * level : 0
  byLevel.set(level, countAt(byLevel.get(level), waited, aggregateTps, now, c))
  return true
}

/** A failure is forgiven with time: the missing share of the success rate halves every `halfLifeMs` without news. */
const forgiven = (e: Ewma, now: number, c: LearningConfig): number =>
  1 - (1 - e.value) * 2 ** (-Math.max(0, now - e.at) / c.halfLifeMs)

export class LearningStore extends Context.Tag("sollol/LearningStore")<LearningStore, {
  /** Records one response (successful or not). */
  readonly observe: (o: Observation) => Effect.Effect<void>
  /** `observe`, synchronously, at `now` (epoch ms on Effect's clock). */
  readonly observeAt: (o: Observation, now: number) => void
  /** Learned figures, with priors and then `fallback` for fields not observed; undefined with neither. */
  readonly perf: (nodeId: NodeId, model: string) => Effect.Effect<NodeModelPerf | undefined>
  /** `perf` as of `now`, read synchronously (the per-request scoring path reads it for every candidate). */
  readonly perfAt: (nodeId: NodeId, model: string, now: number) => NodeModelPerf | undefined
  /** Learned mean output tokens for (model, task type). */
  readonly outputEstimate: (model: string, taskType: TaskType) => Effect.Effect<number | undefined>
  /** `outputEstimate`, read synchronously (scoring reads it once per look). */
  readonly outputNow: (model: string, taskType: TaskType) => number | undefined
  /** A synchronous reader of the current `outputEstimate`s, for `analyzeBody`'s `outputEstimate` hint. */
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

const estimateIn = (s: State, model: string, taskType: TaskType): number | undefined => {
  const e = s.outputs.get(key(model, taskType))
  return e === undefined ? undefined : Math.round(e.value)
}

const emptyState = (): State => ({ perf: new Map(), outputs: new Map(), levels: new Map() })

export const make = (config: Partial<LearningConfig> = {}) =>
  Effect.sync(() => {
    const c: LearningConfig = { ...defaultLearningConfig, ...config }
    // Owned by this store: changed in synchronous steps only, read synchronously by the scoring path.
    let state = emptyState()
    let priors: Readonly<Record<string, ModelPrior>> = c.priors
    // Learned slot counts by node; a node's entry is dropped when its levels change.
    const learnedSlots = new Map<string, number | undefined>()

    const perfAt = (nodeId: NodeId, model: string, now: number): NodeModelPerf | undefined => {
      const entry = state.perf.get(key(nodeId, model))
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

    const levelsOf = (s: State, nodeId: string): Array<LevelEntry> =>
      Array.from(s.levels.get(nodeId) ?? [], ([concurrency, l]) => ({ nodeId, concurrency, ...l }))

    // learned counts are computed at the node's last observation (when `learnedAt` says), then read from the cache
    let learnedAt = 0
    const slotsNow = (nodeId: NodeId): number | undefined => {
      const configured = c.slots[nodeId]
      if (configured !== undefined) return configured
      if (learnedSlots.has(nodeId)) return learnedSlots.get(nodeId)
      const learned = learnSlots(levelsOf(state, nodeId), c, learnedAt)
      learnedSlots.set(nodeId, learned)
      return learned
    }

    const outputNow = (model: string, taskType: TaskType) => estimateIn(state, model, taskType)

    const observeAt = (o: Observation, now: number) => {
      if (record(state, o, now, c)) {
        learnedAt = now
        learnedSlots.delete(o.nodeId)
      }
    }

    return LearningStore.of({
      observe: (o) => Effect.map(Clock.currentTimeMillis, (now) => observeAt(o, now)),
      observeAt,
      perf: (nodeId, model) => Effect.map(Clock.currentTimeMillis, (now) => perfAt(nodeId, model, now)),
      perfAt,
      outputEstimate: (model, taskType) => Effect.sync(() => outputNow(model, taskType)),
      outputNow,
      outputEstimator: Effect.succeed(outputNow),
      slots: (nodeId) => Effect.sync(() => slotsNow(nodeId)),
      slotsNow,
      seed: (more) =>
        Effect.sync(() => {
          priors = { ...priors, ...more }
        }),
      snapshot: Effect.sync((): LearningSnapshot => ({
        version: 1,
        perf: Array.from(state.perf.values()),
        outputs: Array.from(state.outputs).map(([k, tokens]) => {
          const [model = "", taskType = "generation"] = k.split("\u0000")
          return { model, taskType: taskType as TaskType, tokens }
        }),
        levels: Array.from(state.levels.keys()).flatMap((nodeId) => levelsOf(state, nodeId))
      })),
      restore: (snap) =>
        Effect.sync(() => {
          learnedSlots.clear()
          state = emptyState()
          if (snap.version !== 1) return
          for (const e of snap.perf) state.perf.set(key(e.nodeId, e.model), e)
          for (const o of snap.outputs) state.outputs.set(key(o.model, o.taskType), o.tokens)
          for (const l of snap.levels) {
            let byLevel = state.levels.get(l.nodeId)
            if (byLevel === undefined) state.levels.set(l.nodeId, byLevel = new Map())
            byLevel.set(l.concurrency, { bestTps: l.bestTps, n: l.n, ran: l.ran ?? 0, waited: l.waited ?? 0, at: l.at ?? 0 })
          }
        })
    })
  })

export const layer = (config: Partial<LearningConfig> = {}): Layer.Layer<LearningStore> =>
  Layer.effect(LearningStore, make(config))
