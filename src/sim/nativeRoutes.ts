/** Ollama's inference routes: `/api/chat`, `/api/generate`, `/api/embed`, `/api/embeddings` (server/routes.go). */
import { Effect } from "effect"
import { nativeBindError } from "../domain/goJson.js"
import { parseKeepAlive } from "../domain/keepAlive.js"
import { optionsError } from "../domain/ollamaOptions.js"
import { runEmbedding, samplingOf } from "./generation.js"
import type { GenerationInput, GenerationResult } from "./generation.js"
import type { SimModelSpec } from "./profiles.js"
import { countTokens, hashString } from "./rng.js"
import { findModel, nowMs, respondGeneration } from "./simContext.js"
import type { SimContext } from "./simContext.js"
import { BUSY_MESSAGE, goJson, JSON_UTF8, NDJSON, obj, ollamaError, sendJson, str, timestamp } from "./wire.js"
import type { Reply } from "./wire.js"

type Body = Record<string, unknown>

const numPredictOf = (body: Body): number | undefined => {
  const n = obj(body["options"])?.["num_predict"]
  return typeof n === "number" && n > 0 ? Math.floor(n) : undefined
}

/** The generation a native body asks for: its prompt, and `options.num_predict`, `stop` and `seed`. */
const generationOf = (body: Body, spec: SimModelSpec, prompt: string, keepAliveMs: number): GenerationInput => {
  const options = obj(body["options"])
  return { spec, prompt, numPredict: numPredictOf(body), keepAliveMs, ...samplingOf(options?.["stop"], options?.["seed"]) }
}

const metrics = (r: GenerationResult) => ({ done_reason: r.doneReason, ...r.timings })

/** Empty prompt or messages: load the model (or unload it with `keep_alive: 0`) and answer one object. */
const loadOrUnload = (ctx: SimContext, reply: Reply, spec: SimModelSpec, keepAliveMs: number, shape: (reason: string) => Body) =>
  keepAliveMs === 0
    ? Effect.zipRight(ctx.engine.unload(spec, "expired"), sendJson(reply, 200, shape("unload")))
    : ctx.engine.withSlot(spec, "", keepAliveMs, () => Effect.void).pipe(
      Effect.zipRight(sendJson(reply, 200, shape("load"))),
      Effect.catchTag("EngineBusy", () => ollamaError(reply, 503, BUSY_MESSAGE))
    )

/**
 * An option of the wrong type: Ollama finds it when it schedules the model (`Options.FromMap`) and answers 500
 * through `handleScheduleError`'s default case.
 */
const badOptions = (reply: Reply, body: Body) => {
  const why = optionsError(obj(body["options"]) ?? {})
  return why === undefined ? undefined : ollamaError(reply, 500, why)
}

/** Shared checks: a known model that can generate, a valid keep_alive and options; answers the error otherwise. */
const prepare = (ctx: SimContext, reply: Reply, body: Body, route: "chat" | "generate") => {
  const wrongType = nativeBindError(route, body)
  if (wrongType !== undefined) return ollamaError(reply, 400, wrongType)
  const raw = str(body["model"]) ?? ""
  if (raw === "" && route === "chat") return ollamaError(reply, 400, "model is required")
  const spec = findModel(ctx, raw)
  if (spec === undefined) return ollamaError(reply, 404, `model '${raw}' not found`)
  if (spec.kind === "embedding") return ollamaError(reply, 400, `"${raw}" does not support ${route}`)
  const refused = requestError(body, raw, route)
  if (refused !== undefined) return ollamaError(reply, 400, refused)
  const keepAlive = parseKeepAlive(body["keep_alive"])
  if (typeof keepAlive !== "number") return ollamaError(reply, 400, keepAlive.error)
  return badOptions(reply, body) ?? { raw, spec, keepAlive }
}

const present = (v: unknown) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)

/**
 * The request checks ollama-api.md §3.1 lists: `raw` with a template, system or context; `think: true` on a model
 * that cannot think (no simulated model can); `top_logprobs` outside 0–20.
 */
const requestError = (body: Body, model: string, route: "chat" | "generate"): string | undefined => {
  if (route === "generate" && body["raw"] === true && (present(body["template"]) || present(body["system"]) || present(body["context"]))) {
    return "raw mode does not support template, system, or context"
  }
  if (body["think"] === true) return `"${model}" does not support thinking`
  const top = body["top_logprobs"]
  if (typeof top === "number" && (top < 0 || top > 20)) return "top_logprobs must be between 0 and 20"
  return undefined
}

export const chat = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const p = prepare(ctx, reply, body, "chat")
    if (Effect.isEffect(p)) return p
    const messages = Array.isArray(body["messages"]) ? body["messages"].map(obj) : []
    const base = (at: number) => ({ model: p.raw, created_at: timestamp(at) })
    if (messages.length === 0) {
      return Effect.flatMap(nowMs, (at) =>
        loadOrUnload(ctx, reply, p.spec, p.keepAlive, (reason) => ({ ...base(at), message: { role: "assistant", content: "" }, done_reason: reason, done: true })))
    }
    const prompt = messages.map((m) => `<|${str(m?.["role"]) ?? "user"}|>${str(m?.["content"]) ?? ""}\n`).join("") + "<|assistant|>"
    const message = (content: string) => ({ role: "assistant", content })
    return respondGeneration(ctx, reply, generationOf(body, p.spec, prompt, p.keepAlive), {
      stream: body["stream"] !== false,
      streamType: NDJSON,
      chunk: (text, _, at) => goJson({ ...base(at), message: message(text), done: false }) + "\n",
      end: (r, at) => goJson({ ...base(at), message: message(""), done: true, ...metrics(r) }) + "\n",
      whole: (r, at) => [JSON_UTF8, goJson({ ...base(at), message: message(r.text), done: true, ...metrics(r) })],
      failed: (message) => goJson({ error: message }) + "\n",
      error: ollamaError
    })
  })

export const generate = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const p = prepare(ctx, reply, body, "generate")
    if (Effect.isEffect(p)) return p
    const base = (at: number) => ({ model: p.raw, created_at: timestamp(at) })
    const prompt = `${str(body["system"]) ?? ""}${str(body["prompt"]) ?? ""}`
    if ((str(body["prompt"]) ?? "") === "") {
      return Effect.flatMap(nowMs, (at) =>
        loadOrUnload(ctx, reply, p.spec, p.keepAlive, (reason) => ({ ...base(at), response: "", done: true, done_reason: reason })))
    }
    const final = (r: GenerationResult, response: string, at: number) => {
      const { done_reason, ...timings } = metrics(r)
      const context = body["raw"] === true ? {} : { context: r.context }
      return { ...base(at), response, done: true, done_reason, ...context, ...timings }
    }
    return respondGeneration(ctx, reply, generationOf(body, p.spec, prompt, p.keepAlive), {
      stream: body["stream"] !== false,
      streamType: NDJSON,
      chunk: (text, _, at) => goJson({ ...base(at), response: text, done: false }) + "\n",
      end: (r, at) => goJson(final(r, "", at)) + "\n",
      whole: (r, at) => [JSON_UTF8, goJson(final(r, r.text, at))],
      failed: (message) => goJson({ error: message }) + "\n",
      error: ollamaError
    })
  })

/** Truncates to `dimensions` and re-normalises, as `/api/embed` does (and `/v1/embeddings`, which forwards to it). */
export const shorten = (v: ReadonlyArray<number>, dims: number | undefined): ReadonlyArray<number> => {
  if (dims === undefined || dims <= 0 || dims >= v.length) return v
  const cut = v.slice(0, dims)
  const norm = Math.sqrt(cut.reduce((s, x) => s + x * x, 0)) || 1
  return cut.map((x) => Math.fround(x / norm))
}

/** Shared by `/api/embed` and `/v1/embeddings`: the vectors, or an error already answered. */
export const embedInputs = (ctx: SimContext, spec: SimModelSpec, inputs: ReadonlyArray<string>, keepAliveMs: number) =>
  runEmbedding(ctx.engine, ctx.timeScale, spec, inputs, keepAliveMs)

export const embed = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const wrongType = nativeBindError("embed", body)
    if (wrongType !== undefined) return ollamaError(reply, 400, wrongType)
    const raw = str(body["model"]) ?? ""
    const spec = findModel(ctx, raw)
    if (spec === undefined) return ollamaError(reply, 404, `model '${raw}' not found`)
    const input = body["input"]
    const inputs = typeof input === "string" ? (input === "" ? [] : [input])
      : Array.isArray(input) && input.every((s) => typeof s === "string") ? input as Array<string>
      : input === undefined ? [] : undefined
    if (inputs === undefined) return ollamaError(reply, 400, "invalid input type")
    // truncate (default true) cuts an input to the context; false refuses it
    if (body["truncate"] === false && inputs.some((s) => countTokens(s) > spec.contextLength)) {
      return ollamaError(reply, 400, "the input length exceeds the context length")
    }
    const keepAlive = parseKeepAlive(body["keep_alive"])
    if (typeof keepAlive !== "number") return ollamaError(reply, 400, keepAlive.error)
    const refused = badOptions(reply, body)
    if (refused !== undefined) return refused
    const dims = typeof body["dimensions"] === "number" ? body["dimensions"] : undefined
    if (inputs.length === 0) {
      return ctx.engine.withSlot(spec, "", keepAlive, () => Effect.void).pipe(
        Effect.zipRight(sendJson(reply, 200, { model: raw, embeddings: [] })),
        Effect.catchTag("EngineBusy", () => ollamaError(reply, 503, BUSY_MESSAGE))
      )
    }
    return embedInputs(ctx, spec, inputs, keepAlive).pipe(
      Effect.flatMap((r) =>
        sendJson(reply, 200, {
          model: raw,
          embeddings: r.vectors.map((v) => shorten(v, dims)),
          total_duration: r.total_duration,
          load_duration: r.load_duration,
          prompt_eval_count: r.prompt_eval_count
        })
      ),
      Effect.catchTag("EngineBusy", () => ollamaError(reply, 503, BUSY_MESSAGE))
    )
  })

/** The legacy endpoint: one prompt, one vector, not normalised. */
export const embeddings = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const wrongType = nativeBindError("embeddings", body)
    if (wrongType !== undefined) return ollamaError(reply, 400, wrongType)
    const raw = str(body["model"]) ?? ""
    const spec = findModel(ctx, raw)
    if (spec === undefined) return ollamaError(reply, 404, `model "${raw}" not found, try pulling it first`)
    const keepAlive = parseKeepAlive(body["keep_alive"])
    if (typeof keepAlive !== "number") return ollamaError(reply, 400, keepAlive.error)
    const refused = badOptions(reply, body)
    if (refused !== undefined) return refused
    const prompt = str(body["prompt"]) ?? ""
    const run = prompt === "" ? Effect.as(ctx.engine.withSlot(spec, "", keepAlive, () => Effect.void), [])
      : Effect.map(embedInputs(ctx, spec, [prompt], keepAlive), (r) => {
        const scale = 8 + (hashString(prompt) % 1000) / 100
        return (r.vectors[0] ?? []).map((x) => x * scale)
      })
    return run.pipe(
      Effect.flatMap((embedding) => sendJson(reply, 200, { embedding })),
      Effect.catchTag("EngineBusy", () => ollamaError(reply, 503, BUSY_MESSAGE))
    )
  })
