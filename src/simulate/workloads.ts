/**
 * Request streams for `sollol simulate`: seeded Poisson arrivals carrying Ollama bodies, so every strategy sees the
 * very same requests. Each workload stresses one part of routing: speed, model locality, prompt caches, priority.
 */
import type { Priority } from "../domain/Priority.js"
import type { RequestKind } from "../domain/Request.js"
import { makeRng } from "../sim/rng.js"
import type { Rng } from "../sim/rng.js"

export type WorkloadName = "mixed" | "multimodel" | "prefix" | "priority"

export const workloadNames: ReadonlyArray<WorkloadName> = ["mixed", "multimodel", "prefix", "priority"]

export const isWorkloadName = (s: string): s is WorkloadName => (workloadNames as ReadonlyArray<string>).includes(s)

export interface Arrival {
  readonly index: number
  /** Virtual ms after the run starts. */
  readonly atMs: number
  readonly kind: RequestKind
  readonly path: string
  readonly body: Record<string, unknown>
  readonly priority: Priority
}

export interface WorkloadOptions {
  readonly requests: number
  /** Mean arrivals per second. */
  readonly rate: number
  readonly seed: number
  /** Models installed somewhere in the cluster: the multi-model workload draws from them. */
  readonly models: ReadonlyArray<string>
}

/** The only model every scenario keeps warm; the default workloads use it. */
export const WARM_MODEL = "llama3.2:3b"

const words = "data node model cluster request answer river light stone value path order field signal state".split(" ")

/** About `tokens` tokens of filler text (≈ 4 characters each, as the analyzer and the sim count). */
const text = (rng: Rng, tokens: number): string => {
  let out = ""
  while (out.length < tokens * 4) out += `${words[Math.floor(rng() * words.length)] ?? "data"} `
  return out.slice(0, Math.max(4, tokens * 4))
}

/** Lognormal draw with the given median, clamped to [lo, hi]. */
const lognormal = (rng: Rng, median: number, sigma: number, lo: number, hi: number): number => {
  const u = Math.max(rng(), 1e-12)
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng())
  return Math.round(Math.min(hi, Math.max(lo, median * Math.exp(sigma * z))))
}

const chat = (model: string, messages: ReadonlyArray<{ role: string; content: string }>, numPredict?: number) => ({
  kind: "chat" as const,
  path: "/api/chat",
  body: { model, messages, stream: true, ...(numPredict !== undefined ? { options: { num_predict: numPredict } } : {}) }
})

const generate = (model: string, prompt: string, numPredict?: number) => ({
  kind: "generate" as const,
  path: "/api/generate",
  body: { model, prompt, stream: true, ...(numPredict !== undefined ? { options: { num_predict: numPredict } } : {}) }
})

/**
 * `mixed`: 60 % open chat (prompt median 150 tokens, output as the model decides, mean ≈ 120), 25 % summaries by
 * generate (prompt median 600, 200 tokens out), 15 % sentiment classification (short prompt, 8 tokens out).
 */
const mixedRequest = (rng: Rng, model: string) => {
  const r = rng()
  if (r < 0.6) return chat(model, [{ role: "user", content: text(rng, lognormal(rng, 150, 0.7, 8, 2000)) }])
  if (r < 0.85) return generate(model, `Summarize the following text: ${text(rng, lognormal(rng, 600, 0.5, 50, 4000))}`, 200)
  return chat(model, [{ role: "user", content: `Classify this sentiment: ${text(rng, lognormal(rng, 40, 0.5, 4, 200))}` }], 8)
}

/** `multimodel`: 55 % the warm model, the rest spread over the other installed models (cold at start). */
const multiModelRequest = (rng: Rng, models: ReadonlyArray<string>) => {
  const others = models.filter((m) => m !== WARM_MODEL)
  const model = rng() < 0.55 || others.length === 0 ? WARM_MODEL : others[Math.floor(rng() * others.length)]!
  if (/embed|minilm/.test(model)) {
    return { kind: "embed" as const, path: "/api/embed", body: { model, input: text(rng, lognormal(rng, 200, 0.5, 8, 1500)) } }
  }
  return mixedRequest(rng, model)
}

/** A conversation: a long shared system prompt (cacheable prefix) and the turns so far. */
interface Conversation {
  readonly system: string
  readonly turns: Array<{ role: string; content: string }>
}

/**
 * `prefix`: 24 conversations, each with its own 1,500-token system prompt, continued in random order; every turn
 * resends the whole history (as chat clients do), so the node holding the prefix in its cache prefills far less.
 */
const makePrefixSource = (rng: Rng) => {
  const conversations: Array<Conversation> = Array.from({ length: 24 }, (_, i) => ({
    system: `You are assistant ${i}. ${text(rng, 1500)}`,
    turns: []
  }))
  return () => {
    const c = conversations[Math.floor(rng() * conversations.length)]!
    if (c.turns.length >= 12) c.turns.splice(0, c.turns.length)
    c.turns.push({ role: "user", content: text(rng, lognormal(rng, 60, 0.6, 4, 400)) })
    const request = chat(WARM_MODEL, [{ role: "system", content: c.system }, ...c.turns], 80)
    c.turns.push({ role: "assistant", content: text(rng, 80) })
    return request
  }
}

/** Builds the arrivals: exponential gaps at `rate` (Poisson), the request from the workload, priority 5 unless `priority`. */
export const makeArrivals = (workload: WorkloadName, options: WorkloadOptions): ReadonlyArray<Arrival> => {
  const rng = makeRng(options.seed * 7919 + 17)
  const prefix = makePrefixSource(rng)
  const out: Array<Arrival> = []
  let at = 0
  for (let index = 0; index < options.requests; index++) {
    at += (-Math.log(1 - rng()) / options.rate) * 1000
    const request = workload === "multimodel"
      ? multiModelRequest(rng, options.models)
      : workload === "prefix"
      ? prefix()
      : mixedRequest(rng, WARM_MODEL)
    const priority = workload === "priority" ? 1 + Math.floor(rng() * 10) : 5
    out.push({ index, atMs: at, priority, ...request })
  }
  return out
}
