/**
 * One inference on the engine, timed like Ollama reports it: queue and load, prefill (minus the slot's cached
 * prefix), then decode token by token at the per-stream rate. Reported durations are simulated nanoseconds: the
 * waits (queue, load) as measured on the clock, prefill and decode as the node's model computes them, so a large
 * time scale (whose steps are shorter than a timer can sleep) changes how tokens bunch up on the wire, not what
 * the node reports.
 */
import { Clock, Effect } from "effect"
import type { Engine, EngineBusy } from "./engine.js"
import type { SimModelSpec } from "./profiles.js"
import { countTokens, drawOutputTokens, embeddingVector, hashString, makeRng, tokenText } from "./rng.js"
import type { Rng } from "./rng.js"

export interface Timings {
  readonly total_duration: number
  readonly load_duration: number
  readonly prompt_eval_count: number
  readonly prompt_eval_duration: number
  readonly eval_count: number
  readonly eval_duration: number
}

export interface GenerationResult {
  readonly text: string
  readonly doneReason: "stop" | "length"
  readonly timings: Timings
  /** Token ids of prompt and output (generate's `context`). */
  readonly context: ReadonlyArray<number>
}

export interface GenerationInput {
  readonly spec: SimModelSpec
  readonly prompt: string
  /** `options.num_predict` when positive: exactly that many tokens, `done_reason: "length"`. */
  readonly numPredict: number | undefined
  readonly keepAliveMs: number
  /** Stop sequences: the text ends before the first one generated, with `done_reason: "stop"`. */
  readonly stop?: ReadonlyArray<string>
  /** `seed`: the same seed and prompt give the same text (and length), on any node. */
  readonly seed?: number
}

/** `stop` (a string or strings, as both APIs take it) and an integer `seed`, as a generation takes them. */
export const samplingOf = (stop: unknown, seed: unknown): Pick<GenerationInput, "stop" | "seed"> => ({
  ...(typeof stop === "string" ? { stop: [stop] } : {}),
  ...(Array.isArray(stop) ? { stop: stop.filter((s): s is string => typeof s === "string") } : {}),
  ...(typeof seed === "number" && Number.isInteger(seed) ? { seed } : {})
})

/** Length of the longest end of `text` that a stop sequence begins with (it may be completed by the next tokens). */
const heldBack = (text: string, stops: ReadonlyArray<string> | undefined): number => {
  let held = 0
  for (const s of stops ?? []) {
    for (let n = Math.min(s.length - 1, text.length); n > held; n--) {
      if (text.endsWith(s.slice(0, n))) {
        held = n
        break
      }
    }
  }
  return held
}

/** Where the first stop sequence starts in `text`, or -1. */
const stopAt = (text: string, stops: ReadonlyArray<string> | undefined): number => {
  let first = -1
  for (const s of stops ?? []) {
    const i = s === "" ? -1 : text.indexOf(s)
    if (i >= 0 && (first < 0 || i < first)) first = i
  }
  return first
}

/**
 * Clock reading in ns. The live clock is read at ns resolution (a large time scale magnifies ms steps); TestClock
 * keeps fractional ms, which its own ns conversion rejects, so it is read in ms there.
 */
const nanos = Effect.clockWith((clock) =>
  Effect.sync(() => {
    try {
      return Number(clock.unsafeCurrentTimeNanos())
    } catch {
      return clock.unsafeCurrentTimeMillis() * 1e6
    }
  })
)

/** Runs a generation; `onToken` gets each token's text as it is decoded (the first call marks the first token). */
export const runGeneration = <E>(
  engine: Engine,
  nodeRng: Rng,
  timeScale: number,
  input: GenerationInput,
  onToken: (text: string, index: number) => Effect.Effect<void, E>
): Effect.Effect<GenerationResult, E | EngineBusy> =>
  Effect.gen(function*() {
    const { spec, prompt } = input
    const simNs = (realNs: number) => Math.round(realNs * timeScale)
    const t0 = yield* nanos
    return yield* engine.withSlot(spec, prompt, input.keepAliveMs, (lease, setCache) =>
      Effect.gen(function*() {
        const tGrant = yield* nanos
        const startMs = yield* Clock.currentTimeMillis
        // 1. Prefill: only the part past the slot's cached prefix is evaluated (at least one token).
        const promptTokens = Math.max(1, countTokens(prompt))
        const cachedTokens = Math.min(promptTokens - 1, Math.floor(lease.cachedChars / 4))
        const prefillMs = ((promptTokens - cachedTokens) / spec.prefillTps) * 1000 * engine.slowFactor()
        yield* engine.sleepUntilSim(startMs, prefillMs)
        // 2. Decode: one token per step at decodeTps × n^-0.25 for n streams decoding now, each step due at a
        // deadline counted from the start, so steps a timer cannot sleep still add up to the right rate.
        const rng = input.seed !== undefined
          ? makeRng(hashString(`${input.seed}\u0000${prompt}`))
          : makeRng(Math.floor(nodeRng() * 4294967296))
        const drawn = drawOutputTokens(rng)
        const count = input.numPredict !== undefined && input.numPredict > 0 ? input.numPredict : drawn
        let text = ""
        let decodeMs = 0
        /** Tokens decoded, and whether a stop sequence ended the generation before `count`. */
        let produced = 0
        let stopped = false
        // As Ollama does, text that may be the start of a stop sequence is held back until the next tokens
        // tell; the stop sequence itself is never sent. `full` is everything decoded, `text` what was sent.
        let full = ""
        yield* engine.decoding(Effect.gen(function*() {
          for (let i = 0; i < count && !stopped; i++) {
            decodeMs += (1000 / (spec.decodeTps * Math.pow(Math.max(1, engine.decoders()), -0.25))) * engine.slowFactor()
            yield* engine.sleepUntilSim(startMs, prefillMs + decodeMs)
            full += tokenText(rng, i)
            produced++
            const cut = stopAt(full, input.stop)
            if (cut >= 0) stopped = true
            const upTo = stopped ? cut : full.length - heldBack(full, input.stop)
            const piece = full.slice(text.length, Math.max(text.length, upTo))
            text += piece
            if (piece !== "" || input.stop === undefined) yield* onToken(piece, i)
          }
          // nothing stopped it: what was held back is sent after all
          if (!stopped && text.length < full.length) {
            const rest = full.slice(text.length)
            text = full
            yield* onToken(rest, produced)
          }
        }))
        setCache(prompt + text)
        const base = hashString(prompt)
        // The wait for a slot (and a load) as measured, the work as the model computes it: the timers' lateness
        // on a busy host is not the node's time, and a large time scale would magnify it into seconds.
        const loadNs = lease.cold ? simNs(tGrant - t0) : 0
        const prefillNs = Math.round(prefillMs * 1e6)
        const decodeNs = Math.round(decodeMs * 1e6)
        return {
          text,
          doneReason: !stopped && input.numPredict !== undefined && input.numPredict > 0 ? "length" as const : "stop" as const,
          timings: {
            total_duration: simNs(tGrant - t0) + prefillNs + decodeNs,
            load_duration: loadNs,
            prompt_eval_count: promptTokens,
            prompt_eval_duration: prefillNs,
            eval_count: produced,
            eval_duration: decodeNs
          },
          context: Array.from({ length: promptTokens + produced }, (_, i) => (base + i * 7919) % 128_000)
        }
      })
    )
  })

export interface EmbeddingResult {
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly total_duration: number
  readonly load_duration: number
  readonly prompt_eval_count: number
}

/** Embeds `inputs` in one slot (embedding runners have one): prefill time for all their tokens. */
export const runEmbedding = (
  engine: Engine,
  timeScale: number,
  spec: SimModelSpec,
  inputs: ReadonlyArray<string>,
  keepAliveMs: number
): Effect.Effect<EmbeddingResult, EngineBusy> =>
  Effect.gen(function*() {
    const t0 = yield* nanos
    return yield* engine.withSlot(spec, "", keepAliveMs, (lease) =>
      Effect.gen(function*() {
        const tGrant = yield* nanos
        const tokens = inputs.reduce((n, s) => n + Math.max(1, countTokens(s)), 0)
        const baseMs = (tokens / spec.prefillTps) * 1000
        const prefillMs = baseMs * engine.slowFactor()
        yield* engine.sleepSim(baseMs)
        return {
          vectors: inputs.map((s) => embeddingVector(spec.name, s, spec.embeddingDim)),
          // the wait as measured, the work as the model computes it (see runGeneration)
          total_duration: Math.round((tGrant - t0) * timeScale + prefillMs * 1e6),
          load_duration: lease.cold ? Math.round((tGrant - t0) * timeScale) : 0,
          prompt_eval_count: tokens
        }
      })
    )
  })
