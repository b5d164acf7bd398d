/**
 * Request analysis (DESIGN.md §2 step 2): turns an already-validated body into the figures scoring needs. Pure and
 * total: odd shapes give defaults, never an exception, because the HTTP layer owns validation.
 */
import { parseKeepAlive } from "../domain/keepAlive.js"
import { normalizeModel } from "../domain/Model.js"
import { isEmbeddingKind } from "../domain/Request.js"
import type { Complexity, RequestKind, RoutingIntent, TaskType } from "../domain/Request.js"

/**
 * Task-type patterns, matched case-insensitively on word boundaries over the last user message (chat) or the
 * prompt (generate). The pattern matching earliest in the text wins (the leading instruction usually names the task);
 * equal positions go to the earlier row. No match → `generation`. `embedding` comes from the endpoint only.
 *
 * - classification: classify, classification, categorize/categorise, sentiment, label(s), which/what category,
 *   is this spam
 * - extraction: extract, list all, find all, parse, pull out, identify all, named entities
 * - summarization: summarize/summarise, summary, tl;dr, tldr, condense, recap, key points, in a nutshell
 * - analysis: analyze/analyse, analysis, compare, contrast, evaluate, assess, explain why, pros and cons, critique,
 *   trade-offs
 */
export const TASK_PATTERNS: ReadonlyArray<readonly [TaskType, RegExp]> = ([
  ["classification", [
    "classif(?:y|ies|ied|ication)", "categori[sz](?:e|ation)", "sentiment", "labels?", "(?:which|what) category",
    "is this spam"
  ]],
  ["extraction", ["extract(?:s|ion)?", "list all", "find all", "parse", "pull out", "identify all", "named entities"]],
  ["summarization", [
    "summari[sz](?:e|ation)", "summary", "tl;?dr", "condense", "recap", "key points", "in a nutshell"
  ]],
  ["analysis", [
    "analy[sz]e", "analysis", "compare", "comparison", "contrast", "evaluate", "assess", "explain why", "pros and cons",
    "critique", "trade-?offs?"
  ]]
] as const).map(([type, words]) => [type, new RegExp(`\\b(?:${words.join("|")})\\b`, "i")] as const)

/** Expected output tokens per task type when neither `num_predict` nor a learned estimate is known. */
export const DEFAULT_OUTPUT_TOKENS: Readonly<Record<TaskType, number>> = {
  classification: 10,
  extraction: 150,
  summarization: 200,
  analysis: 400,
  generation: 250,
  embedding: 0
}

/**
 * The intent with its output length re-estimated from what was learned for (model, task type), when analysis fell
 * back to `DEFAULT_OUTPUT_TOKENS` (the intent is built before the learning store is asked). A request whose
 * `num_predict` equals that default is re-estimated too: its real output is at most that, and the learned mean of
 * its kind is the better guess. Unchanged when nothing is learned.
 */
export const withLearnedOutput = (
  intent: RoutingIntent,
  learned: (model: string, taskType: TaskType) => number | undefined
): RoutingIntent => {
  if (intent.expectedOutputTokens !== DEFAULT_OUTPUT_TOKENS[intent.taskType]) return intent
  const tokens = learned(intent.model, intent.taskType)
  return tokens === undefined || tokens === intent.expectedOutputTokens ? intent : { ...intent, expectedOutputTokens: tokens }
}

/** The task type of a free text (see `TASK_PATTERNS`). */
export const classifyTask = (text: string): TaskType => {
  let best: TaskType = "generation"
  let at = Infinity
  for (const [type, re] of TASK_PATTERNS) {
    const m = re.exec(text)
    if (m !== null && m.index < at) {
      best = type
      at = m.index
    }
  }
  return best
}

/** FNV-1a 64 over UTF-8 bytes, as 16 hex digits; 16-bit limbs keep it exact without BigInt. */
export const fnv1a64 = (text: string): string => {
  // a Buffer from Node's pool: a fresh Uint8Array would cost an off-heap allocation per request
  const bytes = Buffer.from(text, "utf8")
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2 // offset basis 0xcbf29ce484222325
  for (let i = 0; i < bytes.length; i++) {
    h0 ^= bytes[i]!
    // × 0x100000001b3 = × 0x1b3 + (× 2^40): the shifted term lands 2.5 limbs up
    const t0 = h0 * 0x1b3
    const t1 = h1 * 0x1b3 + (t0 >>> 16)
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16)
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)
    h0 = t0 & 0xffff
    h1 = t1 & 0xffff
    h2 = t2 & 0xffff
    h3 = t3 & 0xffff
  }
  return [h3, h2, h1, h0].map((l) => l.toString(16).padStart(4, "0")).join("")
}

/** Only this many characters of the system prompt and first message enter the key (bounds hashing cost). */
export const AFFINITY_PREFIX_CHARS = 4096

/**
 * The conversation's affinity key: FNV-1a 64 of model, load options (sorted), system prompt and the first user
 * message (or the first 64 `context` token ids of a native generate), each capped at `AFFINITY_PREFIX_CHARS`. Every
 * turn of one conversation shares it, so later turns find the node holding its prompt cache.
 */
export const affinityKeyOf = (
  model: string,
  loadOptions: Readonly<Record<string, number | string | boolean>>,
  system: string,
  first: string
): string => {
  const opts = Object.keys(loadOptions).sort().map((k) => `${k}=${String(loadOptions[k])}`).join(",")
  return fnv1a64(
    `${model}\u0000${opts}\u0000${system.slice(0, AFFINITY_PREFIX_CHARS)}\u0000${first.slice(0, AFFINITY_PREFIX_CHARS)}`
  )
}

/** The analysed fields of `RoutingIntent`. */
export type Analysis = Pick<
  RoutingIntent,
  | "model"
  | "stream"
  | "taskType"
  | "complexity"
  | "promptTokens"
  | "conversationDepth"
  | "expectedOutputTokens"
  | "loadOptions"
  | "affinityKey"
  | "unloadsModel"
  | "unloadOnly"
>

export interface AnalyzeHints {
  /** Learned output length for (model, task type), e.g. `LearningStore.outputEstimate`; used without `num_predict`. */
  readonly outputEstimate?: (model: string, taskType: TaskType) => number | undefined
}

/** Options that make Ollama reload the runner when they differ (`Options.Runner`, server/sched.go `needsReload`). */
export const LOAD_OPTION_KEYS: ReadonlyArray<string> = [
  "num_ctx", "num_gpu", "num_batch", "num_thread", "main_gpu", "use_mmap", "use_mlock", "low_vram", "f16_kv", "numa",
  "draft_num_predict"
]

/** Characters per token for the prompt estimate (the usual ≈4 for English BPE vocabularies). */
export const CHARS_PER_TOKEN = 4
/** Tokens charged per attached image (a typical vision projector emits a few hundred embeddings per image). */
export const IMAGE_TOKENS = 768

/**
 * Complexity thresholds: `complex` from 2,000 prompt tokens or 10 messages, `medium` from 300 tokens or 4
 * messages, else `simple`.
 */
export const complexityOf = (promptTokens: number, depth: number): Complexity =>
  promptTokens >= 2000 || depth >= 10 ? "complex" : promptTokens >= 300 || depth >= 4 ? "medium" : "simple"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isOpenAI = (kind: RequestKind): boolean => kind.startsWith("openai-")

/** Text of a message `content`: a string, or OpenAI's parts array (`{type:"text", text}`). */
const contentText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  let out = ""
  for (const part of content) {
    if (typeof part === "string") out += part
    else if (isRecord(part) && typeof part.text === "string") out += part.text
  }
  return out
}

/** Images on a message: native `images` array plus OpenAI `image_url` parts. */
const imageCount = (m: Record<string, unknown>): number => {
  let n = Array.isArray(m.images) ? m.images.length : 0
  if (Array.isArray(m.content)) for (const p of m.content) if (isRecord(p) && p.type === "image_url") n++
  return n
}

const textOf = (u: unknown): string =>
  typeof u === "string" ? u : Array.isArray(u) ? u.filter((s) => typeof s === "string").join("\n") : ""

const tokensOf = (chars: number, images: number): number => Math.ceil(chars / CHARS_PER_TOKEN) + images * IMAGE_TOKENS

interface Prompt {
  readonly chars: number
  readonly images: number
  readonly depth: number
  /** Text the task type is read from: the last user message, or the prompt. */
  readonly taskText: string
  readonly system: string
  readonly firstUser: string | undefined
}

const chatPrompt = (body: Record<string, unknown>): Prompt => {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isRecord) : []
  let chars = 0
  let images = 0
  let system = typeof body.system === "string" ? body.system : ""
  let firstUser: string | undefined
  let lastUser = ""
  for (const m of messages) {
    const text = contentText(m.content)
    chars += text.length
    images += imageCount(m)
    if (m.role === "system" || m.role === "developer") system += text
    else if (m.role === "user") {
      firstUser ??= text
      lastUser = text
    }
  }
  const topSystem = typeof body.system === "string" ? body.system.length : 0
  return { chars: chars + topSystem, images, depth: messages.length, taskText: lastUser, system, firstUser }
}

const promptOf = (kind: RequestKind, body: Record<string, unknown>): Prompt => {
  if (kind === "chat" || kind === "openai-chat") return chatPrompt(body)
  if (kind === "show") return { chars: 0, images: 0, depth: 0, taskText: "", system: "", firstUser: undefined }
  const text = isEmbeddingKind(kind) && kind !== "embeddings" ? textOf(body.input) : textOf(body.prompt)
  const system = typeof body.system === "string" ? body.system : ""
  const images = Array.isArray(body.images) ? body.images.length : 0
  const suffix = typeof body.suffix === "string" ? body.suffix.length : 0
  return { chars: text.length + system.length + suffix, images, depth: text.length > 0 ? 1 : 0, taskText: text, system,
    firstUser: undefined }
}

const positive = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isFinite(u) && u > 0 ? u : undefined

/** `options.num_predict`, else OpenAI's `max_completion_tokens` / `max_tokens` when not yet translated. */
const requestedOutput = (body: Record<string, unknown>, options: Record<string, unknown>): number | undefined =>
  positive(options.num_predict) ?? positive(body.max_completion_tokens) ?? positive(body.max_tokens)

const loadOptionsOf = (options: Record<string, unknown>): Record<string, number | string | boolean> => {
  const out: Record<string, number | string | boolean> = {}
  for (const key of LOAD_OPTION_KEYS) {
    const v = options[key]
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[key] = v
  }
  return out
}

/** Analyses one request body of the given kind. See `classifyTask` for the task patterns, `affinityKeyOf` for keys. */
export const analyzeBody = (kind: RequestKind, body: Record<string, unknown>, hints: AnalyzeHints = {}): Analysis => {
  const b = isRecord(body) ? body : {}
  const model = normalizeModel(typeof b.model === "string" ? b.model : "")
  const options = isRecord(b.options) ? b.options : {}
  // Ollama streams only generations: embeddings and show answer one JSON object whatever `stream` says.
  const stream = isEmbeddingKind(kind) || kind === "show"
    ? false
    : typeof b.stream === "boolean"
    ? b.stream
    : !isOpenAI(kind)
  const prompt = promptOf(kind, b)
  const taskType: TaskType = isEmbeddingKind(kind) ? "embedding" : classifyTask(prompt.taskText)
  const promptTokens = tokensOf(prompt.chars, prompt.images)
  const expectedOutputTokens = kind === "show" || taskType === "embedding"
    ? 0
    : Math.round(
      requestedOutput(b, options) ?? hints.outputEstimate?.(model, taskType) ?? DEFAULT_OUTPUT_TOKENS[taskType]
    )
  const loadOptions = loadOptionsOf(options)
  const unloadsModel = parseKeepAlive(b.keep_alive) === 0
  const chat = kind === "chat" || kind === "openai-chat"
  const context = Array.isArray(b.context) ? b.context : undefined
  const affinityKey = chat && prompt.firstUser !== undefined
    ? affinityKeyOf(model, loadOptions, prompt.system, prompt.firstUser)
    : kind === "generate" && context !== undefined && context.length > 0
    ? affinityKeyOf(model, loadOptions, prompt.system, `context:${context.slice(0, 64).join(",")}`)
    : undefined
  return {
    model,
    stream,
    taskType,
    complexity: complexityOf(promptTokens, prompt.depth),
    promptTokens,
    conversationDepth: prompt.depth,
    expectedOutputTokens,
    loadOptions,
    affinityKey,
    unloadsModel,
    // as Ollama decides it: on `keep_alive` and an empty prompt (generate) or no messages (chat) alone
    unloadOnly: unloadsModel && (kind === "generate"
      ? typeof b.prompt !== "string" || b.prompt === ""
      : kind === "chat" && !(Array.isArray(b.messages) && b.messages.length > 0))
  }
}
