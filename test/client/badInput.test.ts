/**
 * One law for both Promise APIs: a caller's mistake is a rejected promise carrying SollolError 400, never a throw
 * before the promise exists, a 500, or a promise that never settles; streams that break end with a SollolError.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connect } from "../../src/client/connect.js"
import { SollolError } from "../../src/client/SollolError.js"
import type { SollolApi } from "../../src/client/types.js"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const model = "llama3.2:3b"
const embedModel = "nomic-embed-text"

/** The call's outcome: how it failed (synchronously or by rejection) or what it answered. */
const outcome = async (call: () => Promise<unknown>) => {
  let promise: Promise<unknown>
  try {
    promise = call()
  } catch (error) {
    return { thrown: error }
  }
  return promise.then((value) => ({ value }), (error: unknown) => ({ rejected: error }))
}

const expectBadRequest = async (call: () => Promise<unknown>, message?: RegExp) => {
  const result = await outcome(call)
  expect(result).toHaveProperty("rejected")
  const error = (result as { rejected: unknown }).rejected
  expect(error).toBeInstanceOf(SollolError)
  expect(error).toMatchObject({ status: 400, ...(message !== undefined ? { message: expect.stringMatching(message) } : {}) })
}

const circular = (): Record<string, unknown> => {
  const request: Record<string, unknown> = { model, messages: [{ role: "user", content: "Hi" }] }
  request.self = request
  return request
}

describe.each([
  ["createSollol", "embedded"],
  ["connect", "sdk"]
] as const)("%s: bad input", (_name, which) => {
  let cluster: Cluster
  let sollol: Sollol | undefined
  let api: SollolApi
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200 })
    if (which === "embedded") {
      sollol = await createSollol({ nodes: cluster.nodes.map((n) => ({ url: n.url, name: n.spec.name })), database: ":memory:", logLevel: "none" })
      api = sollol
    } else {
      api = connect(cluster.url)
    }
  })
  afterAll(async () => {
    await sollol?.close()
    await cluster.close()
  })

  it("rejects requests JSON cannot carry, or that are not objects", async () => {
    await expectBadRequest(() => api.chat(circular() as never), /^invalid request: .*circular/i)
    await expectBadRequest(() => api.chat({ model, messages: [], seed: 1n } as never), /^invalid request: .*BigInt/)
    await expectBadRequest(() => api.chat(undefined as never), /must be an object/)
    await expectBadRequest(() => api.generate("hello" as never), /must be an object/)
    await expectBadRequest(() => api.embed(null as never), /must be an object/)
    await expectBadRequest(() => api.chat({ model, messages: [], stream: "yes" } as never), /stream: Expected boolean/)
    const getter = { model, messages: [] as Array<never>, get options(): never { throw new Error("unreadable") } }
    await expectBadRequest(() => api.chat(getter as never), /unreadable/)
  })

  it("rejects a batch that is not an array of strings, names no model or has a bad size", async () => {
    await expectBadRequest(() => api.batchEmbed(["a", 7] as never, { model: embedModel }), /documents\.1: expected a string, got number/)
    await expectBadRequest(() => api.batchEmbed([null] as never, { model: embedModel }), /documents\.0: expected a string, got null/)
    await expectBadRequest(() => api.batchEmbed("abc" as never, { model: embedModel }), /array of strings/)
    await expectBadRequest(() => api.batchEmbed(["a"], {} as never), /^model is required$/)
    await expectBadRequest(() => api.batchEmbed(["a"], undefined as never), /^model is required$/)
    await expectBadRequest(() => api.batchEmbed(["a"], { model: embedModel, batchSize: "x" as never }), /batchSize/)
    await expectBadRequest(() => api.batchEmbed(["a"], { model: embedModel, options: { num_ctx: "big" } }), /num_ctx/)
  })

  it("answers an embedding whole, whatever `stream` says", async () => {
    const res = await api.embed({ model: embedModel, input: ["a", "b"], stream: true })
    expect(res.embeddings).toHaveLength(2)
  })

  it("ends a stream the caller aborts with SollolError 499", async () => {
    const controller = new AbortController()
    const stream = await api.generate({ model, prompt: "a long story", stream: true, options: { num_predict: 5_000 } }, { signal: controller.signal })
    const error = await (async () => {
      let n = 0
      for await (const _ of stream) if (++n === 3) controller.abort()
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject({ status: 499, message: "request aborted" })
    await expect.poll(async () => (await api.nodes()).reduce((n, v) => n + v.inFlight, 0)).toBe(0)
  })
})

describe("connect: a gateway URL that cannot be one", () => {
  it("is a caller's mistake (400), not an unreachable gateway (503)", async () => {
    await expectBadRequest(() => connect("not a url").chat({ model, messages: [] }), /invalid gateway URL/)
    await expectBadRequest(() => connect("ftp://x:1").stats(), /invalid gateway URL/)
  })
})

describe("connect: a gateway that goes away mid-stream", () => {
  it("ends the stream with SollolError 502", async () => {
    // two chunks, then the connection drops: what a gateway that dies mid-answer looks like from the client
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson", "x-sollol-request-id": "r1" })
      res.write(`${JSON.stringify({ model, response: "a", done: false })}\n${JSON.stringify({ model, response: "b", done: false })}\n`)
      setTimeout(() => res.socket?.destroy(), 20)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const { port } = server.address() as AddressInfo
      const stream = await connect(`http://127.0.0.1:${port}`).generate({ model, prompt: "x", stream: true })
      const seen: Array<unknown> = []
      const error = await (async () => {
        for await (const chunk of stream) seen.push(chunk)
      })().catch((e: unknown) => e)
      expect(seen).toHaveLength(2)
      expect(error).toBeInstanceOf(SollolError)
      expect(error).toMatchObject({ status: 502, requestId: "r1", message: expect.stringMatching(/^the answer was cut short: /) })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
