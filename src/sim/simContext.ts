/** What the route handlers of one simulated node share, and the streamed-or-whole generation responder. */
import { Clock, Data, Effect } from "effect"
import type { UpstreamError } from "../domain/errors.js"
import { normalizeModel } from "../domain/Model.js"
import type { Engine } from "./engine.js"
import { runGeneration } from "./generation.js"
import type { GenerationInput, GenerationResult } from "./generation.js"
import type { SimModelSpec, SimProfile } from "./profiles.js"
import type { Rng } from "./rng.js"
import { BUSY_MESSAGE, sendBody } from "./wire.js"
import type { Reply } from "./wire.js"

/** An installed model as `/api/show` tells of it: its spec and the Modelfile layers over its weights. */
export interface SimModel {
  readonly spec: SimModelSpec
  /** `details.parent_model`: the `from` of the create that made it; "" for a pulled model and copies of one. */
  readonly parent: string
  readonly template: string
  /** "" when none. */
  readonly system: string
  /** The model's default options (its PARAMETER lines). */
  readonly parameters: Readonly<Record<string, unknown>>
}

export interface SimContext {
  readonly name: string
  readonly profile: SimProfile
  readonly engine: Engine
  readonly rng: Rng
  readonly timeScale: number
  /** Normalised names of installed models (pull, copy and create add, delete removes). */
  readonly installed: Set<string>
  /** Clock ms at which each model was installed (`modified_at`). */
  readonly installedAt: Map<string, number>
  /** Installed models that copy and create wrote, by normalised name; they win over the profile's catalogue. */
  readonly local: Map<string, SimModel>
  /** Digests (`sha256:<hex>`) of the blobs uploaded with `POST /api/blobs/:digest`. */
  readonly blobs: Set<string>
  /** Tokens a generation decodes before its runner dies (the `crash` fault); undefined while none is set. */
  readonly crashAfter: () => number | undefined
}

/** What a node reports when its model runner dies mid-generation. */
export const RUNNER_CRASHED = "llama runner process has terminated: exit status 2"

class RunnerCrashed extends Data.TaggedError("RunnerCrashed")<{}> {}

/** A model of the profile's catalogue as a pull installs it. */
export const catalogueModel = (spec: SimModelSpec): SimModel => ({
  spec,
  parent: "",
  template: spec.kind === "llm" ? "{{ .Prompt }}" : "",
  system: "",
  parameters: spec.kind === "llm" ? { stop: ["<|eot_id|>"] } : {}
})

/** The installed model of a normalised name, if any. */
export const modelOf = (ctx: SimContext, name: string): SimModel | undefined => {
  if (!ctx.installed.has(name)) return undefined
  const spec = ctx.profile.models[name]
  return ctx.local.get(name) ?? (spec === undefined ? undefined : catalogueModel(spec))
}

/** The installed model a request names, if any. */
export const findModel = (ctx: SimContext, raw: string): SimModelSpec | undefined => modelOf(ctx, normalizeModel(raw))?.spec

export const nowMs = Clock.currentTimeMillis

export interface GenerationFrames {
  readonly stream: boolean
  /** Content type of a streamed body. */
  readonly streamType: string
  /** One framed chunk for a token (`index` 0 is the first). */
  readonly chunk: (text: string, index: number, atMs: number) => string
  /** What ends a stream: the final object(s), framed. */
  readonly end: (result: GenerationResult, atMs: number) => string
  /** The whole response when not streaming: content type and body. */
  readonly whole: (result: GenerationResult, atMs: number) => readonly [string, string]
  /** The stream's last frame when the generation failed after it began (Ollama's extra error line). */
  readonly failed: (message: string, atMs: number) => string
  /** Answers an error before anything was sent (a full queue, a runner that died before its first token). */
  readonly error: (reply: Reply, status: number, message: string) => Effect.Effect<void, UpstreamError>
}

/**
 * Runs a generation and answers it. Streams send no head until the first token (Ollama's time to headers is
 * time to first token); a full queue answers 503 before any byte. A runner that dies (the `crash` fault) is
 * reported as Ollama reports it: a 500 before any byte, else one more frame in the 200 stream.
 */
export const respondGeneration = (ctx: SimContext, reply: Reply, input: GenerationInput, frames: GenerationFrames) =>
  Effect.gen(function*() {
    let started = false
    const start = Effect.suspend(() => {
      if (started) return Effect.void
      started = true
      return reply.head(200, { "content-type": frames.streamType })
    })
    const crashAfter = ctx.crashAfter()
    const onToken = (text: string, index: number): Effect.Effect<void, UpstreamError | RunnerCrashed> =>
      crashAfter !== undefined && index >= crashAfter
        ? Effect.fail(new RunnerCrashed())
        : frames.stream
        ? Effect.flatMap(nowMs, (at) => Effect.zipRight(start, reply.write(frames.chunk(text, index, at))))
        : Effect.void
    const result = yield* runGeneration(ctx.engine, ctx.rng, ctx.timeScale, input, onToken).pipe(
      Effect.catchTags({
        EngineBusy: () => Effect.as(frames.error(reply, 503, BUSY_MESSAGE), undefined),
        // the dead runner is dropped, as Ollama's scheduler drops it: gone from /api/ps, loaded again when next asked
        RunnerCrashed: () =>
          Effect.zipRight(
            ctx.engine.unload(input.spec, "crashed"),
            started
              ? Effect.flatMap(nowMs, (at) => Effect.as(reply.write(frames.failed(RUNNER_CRASHED, at)), undefined))
              : Effect.as(frames.error(reply, 500, RUNNER_CRASHED), undefined)
          )
      })
    )
    if (result === undefined) return
    const at = yield* nowMs
    if (frames.stream) {
      yield* start
      yield* reply.write(frames.end(result, at))
    } else {
      const [type, body] = frames.whole(result, at)
      yield* sendBody(reply, 200, type, body)
    }
  })
