/** Ollama's OpenAI-compatible routes (middleware/openai.go): `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`. */
import { Effect } from "effect"
import { bindError } from "../domain/goJson.js"
import type { GoField } from "../domain/goJson.js"
import { embedInputs, shorten } from "./nativeRoutes.js"
import { samplingOf } from "./generation.js"
import type { GenerationResult } from "./generation.js"
import { installedSpecs } from "./modelRoutes.js"
import { findModel, respondGeneration } from "./simContext.js"
import type { SimContext } from "./simContext.js"
import { BUSY_MESSAGE, goJson, JSON_UTF8, obj, openaiError, sendJson, str } from "./wire.js"
import type { Reply } from "./wire.js"

type Body = Record<string, unknown>

const SSE = "text/event-stream"
const sse = (v: unknown) => `data: ${goJson(v)}\n\n`
const DONE = "data: [DONE]\n\n"

const usage = (r: GenerationResult) => ({
  prompt_tokens: r.timings.prompt_eval_count,
  completion_tokens: r.timings.eval_count,
  total_tokens: r.timings.prompt_eval_count + r.timings.eval_count
})

const contentText = (content: unknown): string =>
  typeof content === "string" ? content
    : Array.isArray(content) ? content.map((p) => str(obj(p)?.["text"]) ?? "").join("")
    : ""

/** The typed fields of Ollama's `ChatCompletionRequest` / `CompletionRequest` that Go's decoder checks. */
const TYPED_FIELDS: Readonly<Record<string, GoField>> = {
  model: "string",
  stream: "bool",
  max_tokens: "int",
  seed: "int",
  temperature: "float64",
  top_p: "float64",
  frequency_penalty: "float64",
  presence_penalty: "float64"
}

/** `route` is the native route Ollama's middleware forwards to, whose words its errors use. */
const common = (ctx: SimContext, reply: Reply, body: Body, route: "chat" | "generate") => {
  const wrongType = bindError(route === "chat" ? "ChatCompletionRequest" : "CompletionRequest", body, TYPED_FIELDS)
  if (wrongType !== undefined) return openaiError(reply, 400, wrongType)
  const raw = str(body["model"]) ?? ""
  // forwarded to ChatHandler, which asks for a model first (GenerateHandler looks the empty name up: 404)
  if (raw === "" && route === "chat") return openaiError(reply, 400, "model is required")
  const spec = findModel(ctx, raw)
  if (spec === undefined) return openaiError(reply, 404, `model '${raw}' not found`)
  if (spec.kind === "embedding") return openaiError(reply, 400, `"${raw}" does not support ${route}`)
  const maxTokens = body["max_tokens"] ?? body["max_completion_tokens"]
  return {
    raw,
    spec,
    sampling: samplingOf(body["stop"], body["seed"]),
    numPredict: typeof maxTokens === "number" && maxTokens > 0 ? Math.floor(maxTokens) : undefined,
    stream: body["stream"] === true,
    includeUsage: obj(body["stream_options"])?.["include_usage"] === true,
    created: (at: number) => Math.floor(at / 1000)
  }
}

export const chatCompletions = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const c = common(ctx, reply, body, "chat")
    if (Effect.isEffect(c)) return c
    const messages = Array.isArray(body["messages"]) ? body["messages"].map(obj) : []
    if (messages.length === 0) return openaiError(reply, 400, "[] is too short - 'messages'")
    const prompt = messages.map((m) => `<|${str(m?.["role"]) ?? "user"}|>${contentText(m?.["content"])}\n`).join("") + "<|assistant|>"
    const id = `chatcmpl-${Math.floor(ctx.rng() * 999)}`
    let created: number | undefined
    const head = (at: number) => ({ id, object: "chat.completion.chunk", created: (created ??= c.created(at)), model: c.raw, system_fingerprint: "fp_ollama" })
    return respondGeneration(ctx, reply, { spec: c.spec, prompt, numPredict: c.numPredict, keepAliveMs: 300_000, ...c.sampling }, {
      stream: c.stream,
      streamType: SSE,
      chunk: (text, _, at) => sse({ ...head(at), choices: [{ index: 0, delta: { role: "assistant", content: text }, finish_reason: null }] }),
      end: (r, at) =>
        sse({ ...head(at), choices: [{ index: 0, delta: {}, finish_reason: r.doneReason }] }) +
        (c.includeUsage ? sse({ ...head(at), choices: [], usage: usage(r) }) : "") +
        DONE,
      whole: (r, at) => [JSON_UTF8, goJson({
        id,
        object: "chat.completion",
        created: c.created(at),
        model: c.raw,
        system_fingerprint: "fp_ollama",
        choices: [{ index: 0, message: { role: "assistant", content: r.text }, finish_reason: r.doneReason }],
        usage: usage(r)
      })],
      // Ollama's middleware turns the error line into an empty delta and ends the stream (ollama-api.md §7)
      failed: (_, at) => sse({ ...head(at), choices: [{ index: 0, delta: { role: "", content: "" }, finish_reason: null }] }),
      error: openaiError
    })
  })

export const completions = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const c = common(ctx, reply, body, "generate")
    if (Effect.isEffect(c)) return c
    const prompt = str(body["prompt"])
    if (prompt === undefined) return openaiError(reply, 400, "prompt must be a string")
    const id = `cmpl-${Math.floor(ctx.rng() * 999)}`
    const base = (at: number) => ({ id, object: "text_completion", created: c.created(at), model: c.raw, system_fingerprint: "fp_ollama" })
    return respondGeneration(ctx, reply, { spec: c.spec, prompt, numPredict: c.numPredict, keepAliveMs: 300_000, ...c.sampling }, {
      stream: c.stream,
      streamType: SSE,
      chunk: (text, _, at) => sse({ ...base(at), choices: [{ text, index: 0, finish_reason: null }] }),
      end: (r, at) =>
        sse({ ...base(at), choices: [{ text: "", index: 0, finish_reason: r.doneReason }] }) +
        (c.includeUsage ? sse({ ...base(at), choices: [], usage: usage(r) }) : "") +
        DONE,
      whole: (r, at) => [JSON_UTF8, goJson({ ...base(at), choices: [{ text: r.text, index: 0, finish_reason: r.doneReason }], usage: usage(r) })],
      failed: (_, at) => sse({ ...base(at), choices: [{ text: "", index: 0, finish_reason: null }] }),
      error: openaiError
    })
  })

/** Little-endian float32 bytes, standard base64 (`floatsToBase64`). */
const toBase64 = (v: ReadonlyArray<number>): string => {
  const buf = Buffer.alloc(v.length * 4)
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4))
  return buf.toString("base64")
}

export const embeddings = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.suspend(() => {
    const raw = str(body["model"]) ?? ""
    const input = body["input"]
    const inputs = typeof input === "string" ? [input]
      : Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "string") ? input as Array<string>
      : undefined
    if (inputs === undefined) return openaiError(reply, 400, "invalid input")
    const format = body["encoding_format"] ?? "float"
    if (format !== "float" && format !== "base64") {
      return openaiError(reply, 400, `Invalid value for 'encoding_format' = ${String(format)}. Supported values: ['float', 'base64'].`)
    }
    const spec = findModel(ctx, raw)
    if (spec === undefined) return openaiError(reply, 404, `model '${raw}' not found`)
    const dims = typeof body["dimensions"] === "number" ? body["dimensions"] : undefined
    return embedInputs(ctx, spec, inputs, 300_000).pipe(
      Effect.flatMap((r) =>
        sendJson(reply, 200, {
          object: "list",
          data: r.vectors.map((v, index) => {
            const vector = shorten(v, dims)
            return { object: "embedding", embedding: format === "base64" ? toBase64(vector) : vector, index }
          }),
          model: raw,
          usage: { prompt_tokens: r.prompt_eval_count, total_tokens: r.prompt_eval_count }
        })
      ),
      Effect.catchTag("EngineBusy", () => openaiError(reply, 503, BUSY_MESSAGE))
    )
  })

const modelObject = (ctx: SimContext, name: string, id: string) => ({
  id,
  object: "model",
  created: Math.floor((ctx.installedAt.get(name) ?? 0) / 1000),
  owned_by: "library"
})

export const models = (ctx: SimContext, reply: Reply) => {
  const specs = installedSpecs(ctx)
  return sendJson(reply, 200, { object: "list", data: specs.length === 0 ? null : specs.map((s) => modelObject(ctx, s.name, s.name)) })
}

export const retrieveModel = (ctx: SimContext, reply: Reply, id: string) => {
  const spec = findModel(ctx, id)
  return spec === undefined ? openaiError(reply, 404, `model '${id}' not found`) : sendJson(reply, 200, modelObject(ctx, spec.name, id))
}
