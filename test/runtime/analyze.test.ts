import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { modelNotFoundFor } from "../../src/domain/errors.js"
import { analyzeBody, classifyTask, complexityOf, fnv1a64, withLearnedOutput } from "../../src/runtime/analyze.js"
import { makeIntent } from "../../src/runtime/intent.js"
import { parseTimings } from "../../src/runtime/timings.js"

const chat = (content: string, extra: Record<string, unknown> = {}) =>
  analyzeBody("chat", { model: "llama3.2", messages: [{ role: "user", content }], ...extra })

/** Reference FNV-1a 64 with BigInt. */
const fnvRef = (s: string): string => {
  let h = 0xcbf29ce484222325n
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn
  return h.toString(16).padStart(16, "0")
}

describe("analyzeBody task type", () => {
  it("reads a greeting as generation", () => {
    expect(chat("Hello!").taskType).toBe("generation")
  })
  it("reads a sentiment request as classification", () => {
    expect(chat("Classify this sentiment: I love this product!").taskType).toBe("classification")
  })
  it("decides embedding by endpoint", () => {
    expect(analyzeBody("embed", { model: "nomic-embed-text", input: "hello" }).taskType).toBe("embedding")
    expect(analyzeBody("embeddings", { model: "nomic-embed-text", prompt: "x" }).taskType).toBe("embedding")
    expect(analyzeBody("openai-embeddings", { model: "e", input: ["a", "b"] }).taskType).toBe("embedding")
  })
  it("does not read the word embedded as an embedding request", () => {
    expect(analyzeBody("generate", { model: "m", prompt: "The embedded system is great" }).taskType).toBe("generation")
  })
  it.each([
    ["Please extract the dates from this letter", "extraction"],
    ["List all the cities mentioned", "extraction"],
    ["Summarize the following article", "summarization"],
    ["tl;dr of this thread please", "summarization"],
    ["Compare Rust and Go for servers", "analysis"],
    ["What are the pros and cons of remote work?", "analysis"],
    ["Which category does this ticket belong to?", "classification"],
    ["Write a poem about the sea", "generation"],
    ["Explain why the summary is wrong", "analysis"],
    ["Reclassify nothing, write a story", "generation"]
  ])("reads %j as %s", (text, type) => {
    expect(classifyTask(text)).toBe(type)
  })
  it("reads the last user message of a chat", () => {
    const a = analyzeBody("chat", {
      model: "m",
      messages: [{ role: "user", content: "Summarize this" }, { role: "assistant", content: "ok" }, {
        role: "user",
        content: "Now extract the names"
      }]
    })
    expect(a.taskType).toBe("extraction")
  })
  it("reads OpenAI content parts", () => {
    const a = analyzeBody("openai-chat", {
      model: "m",
      messages: [{ role: "user", content: [{ type: "text", text: "summarize this" }] }]
    })
    expect(a.taskType).toBe("summarization")
  })
})

describe("analyzeBody figures", () => {
  it("normalises the model and applies stream defaults", () => {
    expect(chat("hi").model).toBe("llama3.2:latest")
    expect(chat("hi").stream).toBe(true)
    expect(chat("hi", { stream: false }).stream).toBe(false)
    expect(analyzeBody("embed", { model: "e", input: "x" }).stream).toBe(false)
    expect(analyzeBody("show", { model: "e" }).stream).toBe(false)
    expect(analyzeBody("openai-chat", { model: "m", messages: [] }).stream).toBe(false)
    expect(analyzeBody("openai-chat", { model: "m", messages: [], stream: true }).stream).toBe(true)
  })
  it("estimates prompt tokens from characters, system and images", () => {
    expect(chat("x".repeat(400)).promptTokens).toBe(100)
    const gen = analyzeBody("generate", { model: "m", prompt: "x".repeat(40), system: "y".repeat(40) })
    expect(gen.promptTokens).toBe(20)
    expect(analyzeBody("generate", { model: "m", prompt: "abcd", images: ["a", "b"] }).promptTokens).toBe(1 + 2 * 768)
    expect(analyzeBody("embed", { model: "m", input: ["abcd", "efgh"] }).promptTokens).toBe(3)
  })
  it("counts conversation depth and grades complexity", () => {
    const messages = Array.from({ length: 12 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: "hi" }))
    const a = analyzeBody("chat", { model: "m", messages })
    expect(a.conversationDepth).toBe(12)
    expect(a.complexity).toBe("complex")
    expect(chat("hi").complexity).toBe("simple")
    expect(chat("x".repeat(1600)).complexity).toBe("medium")
    expect(complexityOf(2000, 1)).toBe("complex")
  })
  it("takes expected output from num_predict, then the hint, then the task default", () => {
    expect(chat("hi", { options: { num_predict: 64 } }).expectedOutputTokens).toBe(64)
    expect(chat("hi", { options: { num_predict: -1 } }).expectedOutputTokens).toBe(250)
    expect(analyzeBody("openai-chat", { model: "m", messages: [], max_tokens: 32 }).expectedOutputTokens).toBe(32)
    const hints = {
      outputEstimate: (model: string, t: string) => model === "llama3.2:latest" && t === "generation" ? 77 : undefined
    }
    expect(chat("hi").expectedOutputTokens).toBe(250)
    const body = { model: "llama3.2", messages: [{ role: "user", content: "hi" }] }
    expect(analyzeBody("chat", body, hints).expectedOutputTokens).toBe(77)
    expect(chat("Classify: spam?").expectedOutputTokens).toBe(10)
    expect(analyzeBody("embed", { model: "m", input: "x", options: { num_predict: 5 } }).expectedOutputTokens).toBe(0)
  })
  it("keeps only the options that force a reload", () => {
    const a = chat("hi", { options: { num_ctx: 8192, temperature: 0.2, num_gpu: 99, use_mmap: false, seed: 1 } })
    expect(a.loadOptions).toEqual({ num_ctx: 8192, num_gpu: 99, use_mmap: false })
  })
  it("knows when the node will unload the model after the request (keep_alive 0)", () => {
    for (const keep_alive of [0, "0", "0s", "0m0s"]) expect(chat("hi", { keep_alive }).unloadsModel).toBe(true)
    for (const keep_alive of [undefined, 300, "5m", -1, "-1m", "0x"]) expect(chat("hi", { keep_alive }).unloadsModel).toBe(false)
  })
  it("words an unknown model's 404 as Ollama does on each route", () => {
    const of = (kind: "chat" | "embeddings" | "embed") =>
      modelNotFoundFor(makeIntent({ kind, body: { model: "nope" }, priority: 5, arrivedAt: 0, path: `/api/${kind}`, headers: {} })).message
    expect(of("chat")).toBe("model 'nope' not found")
    expect(of("embed")).toBe("model 'nope' not found")
    expect(of("embeddings")).toBe(`model "nope" not found, try pulling it first`)
  })
  it("tells an unload (keep_alive 0 with nothing to answer) from a request that unloads after answering", () => {
    const unloads = (kind: "chat" | "generate" | "openai-chat", body: Record<string, unknown>) =>
      analyzeBody(kind, { model: "llama3.2", keep_alive: 0, ...body }).unloadOnly
    expect(unloads("generate", {})).toBe(true)
    expect(unloads("generate", { prompt: "" })).toBe(true)
    expect(unloads("chat", { messages: [] })).toBe(true)
    expect(unloads("chat", {})).toBe(true)
    expect(unloads("generate", { prompt: "hi" })).toBe(false)
    // Ollama decides on the prompt (or the messages) and keep_alive alone: a system prompt or images change nothing
    expect(unloads("generate", { images: ["aGk="] })).toBe(true)
    expect(unloads("generate", { prompt: "", system: "You are terse." })).toBe(true)
    expect(unloads("chat", { messages: [], system: "x" })).toBe(true)
    expect(unloads("chat", { messages: [{ role: "user", content: "hi" }] })).toBe(false)
    expect(unloads("openai-chat", { messages: [] })).toBe(false)
    expect(analyzeBody("generate", { model: "llama3.2", keep_alive: "5m" }).unloadOnly).toBe(false)
  })
  it("never throws on odd shapes", () => {
    const kinds = ["chat", "generate", "embed", "embeddings", "show", "openai-chat", "openai-completions",
      "openai-embeddings"] as const
    const keys = ["model", "messages", "prompt", "input", "options", "system", "images", "context", "stream"]
    const bodies = fc.dictionary(fc.constantFrom(...keys), fc.anything())
    fc.assert(fc.property(fc.constantFrom(...kinds), bodies, (kind, body) => {
      const a = analyzeBody(kind, body)
      return Number.isFinite(a.promptTokens) && Number.isFinite(a.expectedOutputTokens)
    }), { seed: 42, numRuns: 300 })
  })
})

describe("withLearnedOutput", () => {
  const intentOf = (body: Record<string, unknown>) =>
    makeIntent({ kind: "chat", body, priority: 5, arrivedAt: 0, path: "/api/chat", headers: {} })
  const learned = (model: string, task: string) => model === "llama3.2:latest" && task === "generation" ? 118 : undefined
  it("replaces the task default with what was learned for (model, task type)", () => {
    const intent = intentOf({ model: "llama3.2", messages: [{ role: "user", content: "Hello" }] })
    expect(intent.expectedOutputTokens).toBe(250)
    expect(withLearnedOutput(intent, learned).expectedOutputTokens).toBe(118)
  })
  it("keeps num_predict, and the intent itself when nothing is learned", () => {
    const fixed = intentOf({ model: "llama3.2", messages: [{ role: "user", content: "Hello" }], options: { num_predict: 40 } })
    expect(withLearnedOutput(fixed, learned)).toBe(fixed)
    const other = intentOf({ model: "qwen2.5:7b", messages: [{ role: "user", content: "Hello" }] })
    expect(withLearnedOutput(other, learned)).toBe(other)
  })
})

describe("affinity key", () => {
  it("is FNV-1a 64", () => {
    expect(fnv1a64("")).toBe("cbf29ce484222325")
    expect(fnv1a64("a")).toBe("af63dc4c8601ec8c")
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => fnv1a64(s) === fnvRef(s)), { seed: 7, numRuns: 200 })
  })
  it("is stable across the turns of one conversation", () => {
    const first = [{ role: "system", content: "be brief" }, { role: "user", content: "tell me about owls" }]
    const later = [...first, { role: "assistant", content: "Owls are…" }, { role: "user", content: "and bats?" }]
    const a = analyzeBody("chat", { model: "llama3.2", messages: first }).affinityKey
    const b = analyzeBody("chat", { model: "llama3.2:latest", messages: later }).affinityKey
    expect(a).toMatch(/^[0-9a-f]{16}$/)
    expect(b).toBe(a)
  })
  it("differs by model, system, first message and load options", () => {
    const base = chat("tell me about owls").affinityKey
    const qwen = analyzeBody("chat", { model: "qwen", messages: [{ role: "user", content: "tell me about owls" }] })
    expect(qwen.affinityKey).not.toBe(base)
    expect(chat("tell me about bats").affinityKey).not.toBe(base)
    expect(chat("tell me about owls", { system: "pirate" }).affinityKey).not.toBe(base)
    expect(chat("tell me about owls", { options: { num_ctx: 4096 } }).affinityKey).not.toBe(base)
    expect(chat("tell me about owls", { options: { temperature: 1 } }).affinityKey).toBe(base)
  })
  it("is absent for a single-shot generate and present with a context", () => {
    expect(analyzeBody("generate", { model: "m", prompt: "hi" }).affinityKey).toBeUndefined()
    const withContext = analyzeBody("generate", { model: "m", prompt: "hi", context: [1, 2, 3] })
    expect(withContext.affinityKey).toMatch(/^[0-9a-f]{16}$/)
    expect(analyzeBody("embed", { model: "m", input: "hi" }).affinityKey).toBeUndefined()
  })
})

describe("parseTimings", () => {
  it("reads a final chunk and rejects the rest", () => {
    const final = {
      done: true,
      total_duration: 5e9,
      load_duration: 2e6,
      prompt_eval_count: 26,
      prompt_eval_duration: 1.3e8,
      eval_count: 290,
      eval_duration: 4.7e9
    }
    expect(parseTimings(final)).toEqual({
      totalNs: 5e9,
      loadNs: 2e6,
      promptEvalCount: 26,
      promptEvalNs: 1.3e8,
      evalCount: 290,
      evalNs: 4.7e9
    })
    expect(parseTimings({ done: false, total_duration: 1 })).toBeUndefined()
    expect(parseTimings({ error: "boom" })).toBeUndefined()
    expect(parseTimings("x")).toBeUndefined()
    expect(parseTimings({ model: "e", embeddings: [[1]], total_duration: 10, load_duration: 1, prompt_eval_count: 3 }))
      // an embed answer has no prompt_eval_duration: its time is total − load
      .toEqual({ totalNs: 10, loadNs: 1, promptEvalCount: 3, promptEvalNs: 9, evalCount: 0, evalNs: 0 })
  })
})
