/**
 * Ollama's own timing fields (integer nanoseconds) from a final NDJSON chunk or a non-streaming body: the raw
 * material of the learning store. See ollama-api.md "Metric semantics".
 */

export interface OllamaTimings {
  /** `total_duration`: request start to final chunk, including the wait for a parallel slot. */
  readonly totalNs: number
  /** `load_duration`: scheduling plus model load (milliseconds when warm, seconds when cold). */
  readonly loadNs: number
  /** `prompt_eval_count`: the full prompt length, cached prefix included. */
  readonly promptEvalCount: number
  /** `prompt_eval_duration`: only the non-cached part of the prompt. */
  readonly promptEvalNs: number
  /** `eval_count`: generated tokens. */
  readonly evalCount: number
  /** `eval_duration`: decode time. */
  readonly evalNs: number
}

const num = (u: unknown): number => typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : 0

/**
 * The timings of a final chunk (`done: true`) or of a non-streaming chat/generate/embed body. `undefined` for a
 * non-final chunk, an error body, or anything without `total_duration`. Missing counters read as 0.
 */
export const parseTimings = (json: unknown): OllamaTimings | undefined => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined
  const o = json as Record<string, unknown>
  if (o.done === false || o.error !== undefined) return undefined
  if (typeof o.total_duration !== "number" || !Number.isFinite(o.total_duration)) return undefined
  return withEmbedPromptEval({
    totalNs: num(o.total_duration),
    loadNs: num(o.load_duration),
    promptEvalCount: num(o.prompt_eval_count),
    promptEvalNs: num(o.prompt_eval_duration),
    evalCount: num(o.eval_count),
    evalNs: num(o.eval_duration)
  }, o.prompt_eval_duration === undefined && o.eval_count === undefined)
}

/**
 * An `/api/embed` answer has `prompt_eval_count` but no `prompt_eval_duration`: its embedding time is the rest of
 * `total_duration` after `load_duration` (which holds the wait for the runner), so that a node's embedding rate is
 * learned from ordinary embed requests too.
 */
const withEmbedPromptEval = (t: OllamaTimings, embedShape: boolean): OllamaTimings =>
  embedShape && t.promptEvalCount > 0 ? { ...t, promptEvalNs: Math.max(0, t.totalNs - t.loadNs) } : t

/** Ollama writes its timing fields last: the tail of a non-streaming answer holds them all. */
const TAIL_BYTES = 512
/** Below this, a full JSON.parse is faster than scanning the tail. */
const PARSE_BELOW_BYTES = 8_192

const parsed = (body: Buffer): OllamaTimings | undefined => {
  try {
    return parseTimings(JSON.parse(body.toString("utf8")))
  } catch {
    return undefined
  }
}
const TIMING_MEMBER = /[{,]\s*"(total_duration|load_duration|prompt_eval_count|prompt_eval_duration|eval_count|eval_duration|done|error)"\s*:\s*(\d+(?:\.\d+)?|true|false|")/g

/**
 * `parseTimings` of a whole non-streaming body. A large one is read from its tail instead of parsed (an embedding
 * answer is mostly numbers nobody here needs): a member must follow `{` or `,`, so text inside a string (where a
 * quote is escaped) never matches; without `total_duration` in the tail it is parsed in full after all.
 */
export const timingsOfBody = (body: Buffer): OllamaTimings | undefined => {
  if (body.length === 0 || body[0] !== 0x7b) return undefined
  if (body.length < PARSE_BELOW_BYTES) return parsed(body)
  const tail = body.subarray(Math.max(0, body.length - TAIL_BYTES)).toString("latin1")
  const found: Record<string, string> = {}
  for (const m of tail.matchAll(TIMING_MEMBER)) found[m[1]!] = m[2]!
  if (found.total_duration === undefined) return parsed(body)
  if (found.done === "false" || found.error !== undefined) return undefined
  const n = (name: string) => num(found[name] === undefined ? 0 : Number(found[name]))
  return withEmbedPromptEval({
    totalNs: n("total_duration"),
    loadNs: n("load_duration"),
    promptEvalCount: n("prompt_eval_count"),
    promptEvalNs: n("prompt_eval_duration"),
    evalCount: n("eval_count"),
    evalNs: n("eval_duration")
  }, found.prompt_eval_duration === undefined && found.eval_count === undefined)
}
