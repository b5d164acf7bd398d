import { Ollama } from "ollama"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

describe("gateway smoke", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(() => cluster.close())

  it("answers chat through the real ollama client", async () => {
    const ollama = new Ollama({ host: cluster.url })
    const res = await ollama.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hello!" }], options: { num_predict: 8 } })
    expect(res.done).toBe(true)
    const stream = await ollama.generate({ model: "llama3.2:3b", prompt: "Hi", stream: true, options: { num_predict: 8 } })
    let n = 0
    for await (const part of stream) n += part.done ? 0 : 1
    expect(n).toBeGreaterThan(0)
    const list = await ollama.list()
    expect(list.models.length).toBeGreaterThan(0)
  })
})
