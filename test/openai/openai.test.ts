import { Effect } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const model = "llama3.2:3b"

describe("the real openai client through the gateway", () => {
  let cluster: Cluster
  let client: OpenAI
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200 })
    client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: "unused", maxRetries: 0 })
  })
  afterAll(() => cluster.close())

  it("answers a non-streaming chat completion", async () => {
    const res = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: 8 })
    expect(res.object).toBe("chat.completion")
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0)
  })

  it("streams a chat completion as SSE chunks", async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 8,
      stream: true
    })
    let text = ""
    let finish: string | null | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(text.length).toBeGreaterThan(0)
    expect(finish).toBeTruthy()
  })

  it("answers a legacy completion", async () => {
    const res = await client.completions.create({ model, prompt: "Once", max_tokens: 8 })
    expect(res.choices[0]?.text.length).toBeGreaterThan(0)
  })

  it("returns the same embeddings as float and as base64", async () => {
    const input = ["alpha", "beta gamma"]
    const asFloat = await client.embeddings.create({ model: "nomic-embed-text", input, encoding_format: "float" })
    const asDefault = await client.embeddings.create({ model: "nomic-embed-text", input })
    expect(asFloat.data).toHaveLength(2)
    expect(asFloat.data[1]?.embedding).toHaveLength(768)
    // The client asks for base64 by default and decodes it to floats (float32 precision).
    asDefault.data.forEach((d, i) => {
      const expected = asFloat.data[i]!.embedding
      expect(d.embedding).toHaveLength(expected.length)
      d.embedding.forEach((x, j) => expect(x).toBeCloseTo(expected[j]!, 6))
    })
  })

  it("lists and retrieves models", async () => {
    const ids: Array<string> = []
    for await (const m of client.models.list()) ids.push(m.id)
    expect(ids).toEqual(expect.arrayContaining(["llama3.2:3b", "nomic-embed-text:latest"]))
    const one = await client.models.retrieve("llama3.2:3b")
    expect(one.id).toBe("llama3.2:3b")
    await expect(client.models.retrieve("no-such-model")).rejects.toMatchObject({ status: 404 })
  })

  it("answers an unknown model with OpenAI's error shape", async () => {
    const error = await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] })
      .then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).message).toContain("nope")
  })

  it("keeps answering while a node refuses connections mid-run", async () => {
    const run = async (i: number): Promise<number> => {
      if (i % 4 === 0) return (await client.embeddings.create({ model: "nomic-embed-text", input: [`doc ${i}`] })).data.length
      if (i % 4 === 1) {
        let n = 0
        const stream = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: `s ${i}` }],
          max_tokens: 6,
          stream: true
        })
        for await (const chunk of stream) n += chunk.choices.length > 0 ? 1 : 0
        return n
      }
      if (i % 4 === 2) {
        let n = 0
        for await (const m of client.models.list()) n += m.id.length > 0 ? 1 : 0
        return n
      }
      const res = await client.chat.completions.create({ model, messages: [{ role: "user", content: `q ${i}` }], max_tokens: 4 })
      return res.choices.length
    }
    const running = Array.from({ length: 16 }, (_, i) => run(i))
    await running[0]
    await Effect.runPromise(cluster.node("fast-gpu").setFault({ mode: "refuse" }))
    const later = Array.from({ length: 16 }, (_, i) => run(i + 16))
    const counts = await Promise.all([...running, ...later])
    expect(counts.every((n) => n >= 1)).toBe(true)
    await Effect.runPromise(cluster.node("fast-gpu").setFault({ mode: "none" }))
  })

  it("ends a stream cut after its first byte with an error the client raises", async () => {
    await Effect.runPromise(Effect.forEach(cluster.nodes, ({ node }) => node.setFault({ mode: "truncate", afterChunks: 2 })))
    try {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "tell me a long story" }],
        max_tokens: 50,
        stream: true
      })
      let seen = 0
      const error = await (async () => {
        for await (const chunk of stream) seen += chunk.choices.length
      })().then(() => undefined, (e: unknown) => e)
      expect(seen).toBeGreaterThan(0)
      expect(error).toBeInstanceOf(OpenAI.APIError)
      expect(String((error as Error).message)).toContain("mid-stream")
    } finally {
      await Effect.runPromise(Effect.forEach(cluster.nodes, ({ node }) => node.setFault({ mode: "none" })))
    }
  })
})
