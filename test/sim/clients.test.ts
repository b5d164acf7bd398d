/** The real `ollama` and `openai` clients against one simulated node over HTTP (time scale 1000). */
import { Effect, Exit, Scope } from "effect"
import { Ollama } from "ollama"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveSimNode } from "../../src/sim/httpServer.js"
import { makeSimNode } from "../../src/sim/SimNode.js"

let scope: Scope.CloseableScope
let url = ""

beforeAll(async () => {
  scope = await Effect.runPromise(Scope.make())
  url = await Effect.runPromise(
    Effect.gen(function*() {
      const node = yield* makeSimNode({
        name: "gpu",
        profile: "gpu-datacenter",
        models: ["llama3.2:3b", "nomic-embed-text", "all-minilm"],
        timeScale: 1000,
        seed: 7
      })
      return (yield* serveSimNode(node)).url
    }).pipe(Scope.extend(scope))
  )
})

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

describe("the ollama client against a sim node", () => {
  it("chats without streaming", async () => {
    const ollama = new Ollama({ host: url })
    const r = await ollama.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 12 } })
    expect(r.message.role).toBe("assistant")
    expect(r.message.content.split(" ")).toHaveLength(12)
    expect(r.done).toBe(true)
    expect(r.done_reason).toBe("length")
    expect(r.eval_count).toBe(12)
    expect(r.total_duration).toBeGreaterThan(0)
  })

  it("chats with a stream of one chunk per token ending with done", async () => {
    const ollama = new Ollama({ host: url })
    const parts: Array<string> = []
    let last: { done: boolean; eval_count: number } | undefined
    for await (const c of await ollama.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: true, options: { num_predict: 5 } })) {
      if (!c.done) parts.push(c.message.content)
      last = c
    }
    expect(parts).toHaveLength(5)
    expect(last?.done).toBe(true)
    expect(last?.eval_count).toBe(5)
  })

  it("repeats a generation for the same seed, and ends it before a stop sequence", async () => {
    const ollama = new Ollama({ host: url })
    const ask = (options: Record<string, unknown>) =>
      ollama.generate({ model: "llama3.2:3b", prompt: "Tell me a story", options: { num_predict: 40, ...options } })
    const first = await ask({ seed: 42 })
    const text = first.response ?? ""
    expect((await ask({ seed: 42 })).response).toBe(text)
    expect((await ask({ seed: 43 })).response).not.toBe(text)
    // a stop sequence from the middle of that text: the same text up to it, never the sequence itself
    const stop = text.slice(60, 66)
    const stopped = await ask({ seed: 42, stop: [stop] })
    expect(stopped.response).toBe(text.slice(0, text.indexOf(stop)))
    expect(stopped.done_reason).toBe("stop")
    expect(stopped.eval_count).toBeLessThan(40)
    // streamed, the chunks add up to the same text
    let streamed = ""
    for await (const c of await ollama.generate({ model: "llama3.2:3b", prompt: "Tell me a story", stream: true, options: { num_predict: 40, seed: 42, stop: [stop] } })) {
      streamed += c.response
    }
    expect(streamed).toBe(stopped.response)
  })

  it("generates with and without a stream, the final object carrying context", async () => {
    const ollama = new Ollama({ host: url })
    const whole = await ollama.generate({ model: "llama3.2:3b", prompt: "Why is the sky blue?" })
    expect(whole.response?.length).toBeGreaterThan(0)
    expect(whole.context.length).toBe(whole.prompt_eval_count + whole.eval_count)
    let count = 0
    for await (const c of await ollama.generate({ model: "llama3.2:3b", prompt: "again", stream: true, options: { num_predict: 3 } })) {
      if (!c.done) count++
    }
    expect(count).toBe(3)
  })

  it("embeds a string and an array, and the legacy endpoint answers one vector", async () => {
    const ollama = new Ollama({ host: url })
    const one = await ollama.embed({ model: "nomic-embed-text", input: "hello" })
    expect(one.embeddings).toHaveLength(1)
    expect(one.embeddings[0]).toHaveLength(768)
    const norm = Math.sqrt(one.embeddings[0]!.reduce((s, x) => s + x * x, 0))
    expect(norm).toBeCloseTo(1, 5)
    const many = await ollama.embed({ model: "nomic-embed-text", input: ["hello", "world"] })
    expect(many.embeddings).toHaveLength(2)
    expect(many.embeddings[0]).toEqual(one.embeddings[0])
    const legacy = await ollama.embeddings({ model: "all-minilm", prompt: "hello" })
    expect(legacy.embedding).toHaveLength(384)
  })

  it("lists, shows, pulls with progress, and deletes models", async () => {
    const ollama = new Ollama({ host: url })
    const list = await ollama.list()
    expect(list.models.map((m) => m.name).sort()).toEqual(["all-minilm:latest", "llama3.2:3b", "nomic-embed-text:latest"])
    expect(list.models[0]?.digest).toMatch(/^[0-9a-f]{64}$/)
    const ps = await ollama.ps()
    expect(ps.models.map((m) => m.name)).toContain("llama3.2:3b")
    const show = await ollama.show({ model: "llama3.2:3b" })
    expect(show.details.family).toBe("llama")
    expect(show.capabilities).toContain("completion")
    const statuses: Array<string> = []
    for await (const p of await ollama.pull({ model: "qwen2.5:7b", stream: true })) statuses.push(p.status)
    expect(statuses[0]).toBe("pulling manifest")
    expect(statuses.at(-1)).toBe("success")
    expect((await ollama.list()).models.map((m) => m.name)).toContain("qwen2.5:7b")
    expect((await ollama.delete({ model: "qwen2.5:7b" })).status).toBe("success")
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain("qwen2.5:7b")
    await expect(ollama.delete({ model: "qwen2.5:7b" })).rejects.toThrow("not found")
  })

  it("copies and creates models over HTTP, and chats on them", async () => {
    const ollama = new Ollama({ host: url })
    expect((await ollama.copy({ source: "llama3.2:3b", destination: "llama-backup" })).status).toBe("success")
    const statuses: Array<string> = []
    for await (const p of await ollama.create({ model: "mario", from: "llama3.2:3b", system: "You are Mario.", stream: true })) {
      statuses.push(p.status)
    }
    expect(statuses.at(-1)).toBe("success")
    expect((await ollama.create({ model: "luigi", from: "mario" })).status).toBe("success")
    const list = (await ollama.list()).models
    const digest = (name: string) => list.find((m) => m.name === name)?.digest
    expect(digest("llama-backup:latest")).toBe(digest("llama3.2:3b"))
    expect(digest("mario:latest")).toMatch(/^[0-9a-f]{64}$/)
    expect(digest("mario:latest")).not.toBe(digest("llama3.2:3b"))
    expect((await ollama.show({ model: "luigi" })).system).toBe("You are Mario.")
    const r = await ollama.chat({ model: "mario", messages: [{ role: "user", content: "hi" }], options: { num_predict: 4 } })
    expect(r.message.content.split(" ")).toHaveLength(4)
    await expect(ollama.copy({ source: "nope", destination: "x" })).rejects.toMatchObject({ status_code: 404, error: 'model "nope" not found' })
    await expect(ollama.create({ model: "x", from: "nope" })).rejects.toMatchObject({ status_code: 500 })
    await expect(ollama.create({ model: "x" })).rejects.toMatchObject({ status_code: 400, error: "neither 'from' or 'files' was specified" })
    for (const model of ["llama-backup", "mario", "luigi"]) await ollama.delete({ model })
  })

  it("answers an unknown model with Ollama's 404", async () => {
    const ollama = new Ollama({ host: url })
    await expect(ollama.chat({ model: "nope", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({
      status_code: 404,
      error: "model 'nope' not found"
    })
  })
})

describe("the openai client against a sim node", () => {
  const client = () => new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 })

  it("completes a chat without streaming", async () => {
    const r = await client().chat.completions.create({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], max_tokens: 7 })
    expect(r.object).toBe("chat.completion")
    expect(r.choices[0]?.finish_reason).toBe("length")
    expect(r.usage?.completion_tokens).toBe(7)
  })

  it("honours seed and stop, and refuses a field of the wrong type as Go's decoder does", async () => {
    const ask = (extra: Record<string, unknown>) =>
      client().chat.completions.create({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], max_tokens: 40, ...extra })
    const first = (await ask({ seed: 7 })).choices[0]!.message.content!
    expect((await ask({ seed: 7 })).choices[0]!.message.content).toBe(first)
    const stop = first.slice(50, 55)
    const stopped = await ask({ seed: 7, stop })
    expect(stopped.choices[0]!.message.content).toBe(first.slice(0, first.indexOf(stop)))
    expect(stopped.choices[0]!.finish_reason).toBe("stop")
    await expect(ask({ temperature: "hot" })).rejects.toMatchObject({
      status: 400,
      error: { message: "json: cannot unmarshal string into Go struct field ChatCompletionRequest.temperature of type float64" }
    })
    await expect(ask({ max_tokens: 5.5 })).rejects.toMatchObject({
      status: 400,
      error: { message: "json: cannot unmarshal number 5.5 into Go struct field ChatCompletionRequest.max_tokens of type int" }
    })
  })

  it("streams a chat over SSE until [DONE]", async () => {
    const stream = await client().chat.completions.create({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true }
    })
    const content: Array<string> = []
    let finish: string | null | undefined
    let usage: number | undefined
    for await (const chunk of stream) {
      const c = chunk.choices[0]
      if (c?.delta.content) content.push(c.delta.content)
      if (c?.finish_reason) finish = c.finish_reason
      if (chunk.usage) usage = chunk.usage.completion_tokens
    }
    expect(content).toHaveLength(4)
    expect(finish).toBe("length")
    expect(usage).toBe(4)
  })

  it("embeds as base64 (the SDK default) and as floats, with the same vectors", async () => {
    const b64 = await client().embeddings.create({ model: "nomic-embed-text", input: ["a", "b"] })
    const floats = await client().embeddings.create({ model: "nomic-embed-text", input: ["a", "b"], encoding_format: "float" })
    expect(b64.data).toHaveLength(2)
    expect(b64.data[0]?.embedding).toHaveLength(768)
    b64.data[0]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(floats.data[0]!.embedding[i]!, 6))
  })

  it("refuses to chat or complete with an embedding model, as Ollama's native routes do", async () => {
    await expect(client().chat.completions.create({ model: "all-minilm", messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 400, error: { message: `"all-minilm" does not support chat`, type: "invalid_request_error" } })
    await expect(client().completions.create({ model: "all-minilm", prompt: "x", stream: true }))
      .rejects.toMatchObject({ status: 400, error: { message: `"all-minilm" does not support generate` } })
  })

  it("lists models", async () => {
    const ids: Array<string> = []
    for await (const m of client().models.list()) ids.push(m.id)
    expect(ids).toContain("llama3.2:3b")
  })
})
