/**
 * Ollama reports a failure mid-generation inside a 200 stream: natively as a final `{"error": …}` line, and on its
 * OpenAI routes as an empty delta after which the stream stops without `[DONE]` (ollama-api.md §7.1), which
 * openai-node reads as a complete answer. The gateway must not pass either on as a success: the OpenAI stream
 * ends with an SSE error event, and both count as the node's failure in the decision log.
 */
import { Ollama } from "ollama"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { json, ndjson, startFakeCluster } from "./fakeOllama.js"
import type { FakeCluster } from "./fakeOllama.js"

const sse = (objects: ReadonlyArray<unknown>) => objects.map((o) => `data: ${JSON.stringify(o)}\n\n`).join("")
const delta = (content: string, role = "assistant") => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "m:latest",
  choices: [{ index: 0, delta: { role, content }, finish_reason: null }]
})

describe("a node that fails mid-generation inside a 200 stream", () => {
  let cluster: FakeCluster
  beforeAll(async () => {
    cluster = await startFakeCluster({
      a: {
        "/v1/chat/completions": (res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          // what Ollama's OpenAI middleware makes of an error line: an empty delta, then the end
          res.end(sse([delta("Hel"), delta("lo"), delta("", "")]))
        },
        "/api/chat": (res) =>
          ndjson(res, [
            { model: "m:latest", message: { role: "assistant", content: "Hel" }, done: false },
            { error: "llama runner process has terminated: exit status 2" }
          ]),
        "/api/show": (res) => json(res, 200, {})
      }
    })
  })
  afterAll(() => cluster.close())

  const lastDecision = async () => {
    const res = await fetch(`${cluster.url}/api/sollol/decisions?limit=1`)
    const body = (await res.json()) as { decisions: Array<{ outcome: string; error?: string }> }
    return body.decisions[0]
  }

  it("ends the OpenAI stream with an error event, which openai-node throws", async () => {
    const client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: "unused", maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true })
    let text = ""
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    })().catch((e: unknown) => e)
    expect(text).toBe("Hello")
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(String((error as Error).message)).toMatch(/node a cut the response short: its stream ended without \[DONE\]/)
    expect(await lastDecision()).toMatchObject({ outcome: "error", error: expect.stringMatching(/without \[DONE\]/) })
  })

  it("relays the node's own error line once, and records the request as failed", async () => {
    const res = await fetch(`${cluster.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }) })
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toEqual({ error: "llama runner process has terminated: exit status 2" })
    expect(await lastDecision()).toMatchObject({ outcome: "error", error: expect.stringMatching(/^StreamError from a: llama runner/) })
    // and the ollama client reports it as an error, as it would from Ollama itself
    const ollama = new Ollama({ host: cluster.url })
    const error = await (async () => {
      for await (const _ of await ollama.chat({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true })) void _
    })().catch((e: unknown) => e)
    expect(String(error)).toMatch(/llama runner process has terminated/)
  })
})

describe("a node whose connection drops in the middle of a line", () => {
  let cluster: FakeCluster
  beforeAll(async () => {
    cluster = await startFakeCluster({
      a: {
        "/api/generate": (res) => {
          res.writeHead(200, { "content-type": "application/x-ndjson" })
          res.write(`${JSON.stringify({ model: "m:latest", response: "Hel", done: false })}\n{"model":"m:lat`)
          setImmediate(() => res.destroy())
        },
        "/v1/completions": (res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write(`${sse([{ id: "cmpl-1", object: "text_completion", created: 1, model: "m:latest", choices: [{ index: 0, text: "Hel", finish_reason: null }] }])}data: {"id":"cm`)
          setImmediate(() => res.destroy())
        }
      }
    })
  })
  afterAll(() => cluster.close())

  it("ends a line a node cut short before its error line, so the error still parses", async () => {
    const res = await fetch(`${cluster.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi" }) })
    const lines = (await res.text()).split("\n")
    expect(lines.at(-1)).toBe("")
    expect(lines.slice(0, -1)).toHaveLength(3)
    expect(JSON.parse(lines[0]!)).toMatchObject({ response: "Hel" })
    expect(lines[1]).toBe(`{"model":"m:lat`)
    expect(JSON.parse(lines[2]!)).toEqual({ error: expect.stringMatching(/upstream failed mid-stream: node a/) })
    const ollama = new Ollama({ host: cluster.url })
    const error = await (async () => {
      for await (const _ of await ollama.generate({ model: "m", prompt: "hi", stream: true })) void _
    })().catch((e: unknown) => e)
    expect(String(error)).toMatch(/upstream failed mid-stream/)
  })

  it("ends an SSE event a node cut short before the error event", async () => {
    const res = await fetch(`${cluster.url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi", stream: true }) })
    const events = (await res.text()).split("\n\n")
    expect(events.at(-1)).toBe("")
    expect(events.slice(0, -1)).toHaveLength(3)
    expect(events[1]).toBe(`data: {"id":"cm`)
    expect(JSON.parse(events[2]!.replace(/^data: /, ""))).toMatchObject({ error: { message: expect.stringMatching(/upstream failed mid-stream/) } })
  })
})
