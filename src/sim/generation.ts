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
        const rng = makeRng(Math.floor(nodeRng() * 4294967296))
        const drawn = drawOutputTokens(rng)
        const count = input.numPredict !== undefined && input.numPredict > 0 ? input.numPredict : drawn
        let text = ""
        let decodeMs = 0
        yield* engine.decoding(Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
          Effect.suspend(() => {
            decodeMs += (1000 / (spec.decodeTps * Math.pow(Math.max(1, engine.decoders()), -0.25))) * engine.slowFactor()
            return engine.sleepUntilSim(startMs, prefillMs + decodeMs)
          }).pipe(
            Effect.zipRight(Effect.suspend(() => {
              const piece = tokenText(rng, i)
              text += piece
              return onToken(piece, i)
            }))
          ), { discard: true }))
        const tEnd = yield* nanos
        setCache(prompt + text)
        const base = hashString(prompt)
        const loadNs = lease.cold ? simNs(tGrant - t0) : 0
        const prefillNs = Math.round(prefillMs * 1e6)
        const decodeNs = Math.round(decodeMs * 1e6)
        return {
          text,
          doneReason: input.numPredict !== undefined && input.numPredict > 0 ? "length" as const : "stop" as const,
          timings: {
            total_duration: Math.max(simNs(tEnd - t0), simNs(tGrant - t0) + prefillNs + decodeNs),
            load_duration: loadNs,
            prompt_eval_count: promptTokens,
            prompt_eval_duration: prefillNs,
            eval_count: count,
            eval_duration: decodeNs
          },
          context: Array.from({ length: promptTokens + count }, (_, i) => (base + i * 7919) % 128_000)
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
        const tEnd = yield* nanos
        return {
          vectors: inputs.map((s) => embeddingVector(spec.name, s, spec.embeddingDim)),
          // the wait as measured, the work as the model computes it (see runGeneration)
          total_duration: Math.max(Math.round((tEnd - t0) * timeScale), Math.round((tGrant - t0) * timeScale + prefillMs * 1e6)),
          load_duration: lease.cold ? Math.round((tGrant - t0) * timeScale) : 0,
          prompt_eval_count: tokens
        }
      })
    )
  })
