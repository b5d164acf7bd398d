/** The real ollama client through the gateway in front of three simulated nodes, for every route it has. */
import { Ollama } from "ollama"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const NODE_NAMES = ["fast-gpu", "mid-gpu", "cpu"]

describe("the ollama client through the gateway", () => {
  let cluster: Cluster
  let ollama: Ollama
  const answeredBy: Array<string> = []
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200 })
    // Record the answering node of every response (ollama-js takes a custom fetch).
    ollama = new Ollama({
      host: cluster.url,
      fetch: async (input, init) => {
        const res = await fetch(input, init)
        const node = res.headers.get("x-sollol-node")
        if (node !== null) answeredBy.push(node)
        return res
      }
    })
  })
  afterAll(() => cluster.close())

  it("chats, without and with streaming, naming the node that answered", async () => {
    const before = answeredBy.length
    const res = await ollama.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hello!" }], options: { num_predict: 6 } })
    expect(res.done).toBe(true)
    expect(res.message.role).toBe("assistant")
    expect(res.eval_count).toBe(6)
    const stream = await ollama.chat({
      model: "llama3.2",
      messages: [{ role: "user", content: "Tell me a story" }],
      stream: true,
      options: { num_predict: 10 }
    })
    const parts: Array<string> = []
    let done = false
    for await (const part of stream) {
      parts.push(part.message.content)
      done ||= part.done
    }
    expect(done).toBe(true)
    expect(parts.join("").length).toBeGreaterThan(0)
    expect(answeredBy.length).toBe(before + 2)
    for (const node of answeredBy.slice(before)) expect(NODE_NAMES).toContain(node)
  })

  it("generates, without and with streaming", async () => {
    const res = await ollama.generate({ model: "llama3.2:3b", prompt: "Hi", options: { num_predict: 4 } })
    expect(res.done).toBe(true)
    expect(res.response?.length).toBeGreaterThan(0)
    expect(Array.isArray(res.context)).toBe(true)
    const stream = await ollama.generate({ model: "llama3.2:3b", prompt: "Hi", stream: true, options: { num_predict: 4 } })
    let chunks = 0
    for await (const part of stream) if (!part.done) chunks++
    expect(chunks).toBe(4)
  })

  it("embeds a string and an array, and answers the legacy embeddings route", async () => {
    const one = await ollama.embed({ model: "nomic-embed-text", input: "hello" })
    expect(one.embeddings).toHaveLength(1)
    const many = await ollama.embed({ model: "nomic-embed-text", input: ["a", "b", "c"] })
    expect(many.embeddings).toHaveLength(3)
    expect(many.embeddings[0]!.length).toBe(one.embeddings[0]!.length)
    const legacy = await ollama.embeddings({ model: "nomic-embed-text", prompt: "hello" })
    expect(legacy.embedding.length).toBe(one.embeddings[0]!.length)
  })

  it("lists the union of the nodes' models, shows one, reports ps and the version", async () => {
    const list = await ollama.list()
    const names = list.models.map((m) => m.name)
    expect(names).toContain("llama3.2:3b")
    expect(names).toContain("nomic-embed-text:latest")
    expect(new Set(names.map((n, i) => `${n}@${list.models[i]!.digest}`)).size).toBe(names.length)
    const show = await ollama.show({ model: "llama3.2:3b" })
    expect(show.details.family).toBe("llama")
    const ps = await ollama.ps()
    expect(ps.models.map((m) => m.name)).toContain("llama3.2:3b")
    const version = await fetch(`${cluster.url}/api/version`).then((r) => r.json() as Promise<{ version: string }>)
    expect(version.version).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it("answers an unknown model with Ollama's 404 text", async () => {
    await expect(ollama.chat({ model: "no-such-model", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({
      status_code: 404,
      error: "model 'no-such-model' not found"
    })
  })

  it("pulls and deletes on every node through the admin fan-out", async () => {
    const progress = await ollama.pull({ model: "all-minilm", stream: true })
    let success = false
    for await (const p of progress) success ||= p.status === "success"
    expect(success).toBe(true)
    await ollama.delete({ model: "all-minilm" })
    const names = (await ollama.list()).models.map((m) => m.name)
    expect(names).not.toContain("all-minilm:latest")
  })
})
