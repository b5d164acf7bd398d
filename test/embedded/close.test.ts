/**
 * `close()` is a graceful shutdown: new calls get SollolError 503 at once, running calls finish within the grace
 * deadline, what is left is cancelled with 503 (never 499), and only then is the runtime disposed.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { SollolError } from "../../src/client/SollolError.js"
import type { ChatResponse } from "../../src/client/types.js"
import { askChat, embeddedPerTest } from "./support.js"
import type { SimCluster } from "./support.js"

const model = "llama3.2:3b"
const ask = askChat
const start = embeddedPerTest()

/** Reads a stream to its end: the chunks, and the error it threw if it did. */
const drain = async (stream: AsyncIterable<ChatResponse>) => {
  const parts: Array<ChatResponse> = []
  try {
    for await (const part of stream) parts.push(part)
    return { parts, error: undefined }
  } catch (error) {
    return { parts, error }
  }
}

const nodeWork = async (cluster: SimCluster) => {
  const stats = await Effect.runPromise(Effect.forEach(["fast-gpu", "mid-gpu", "cpu"], (n) => cluster.node(n).stats))
  return stats.reduce((n, s) => n + s.inFlight, 0)
}

const closed = { status: 503, message: "this Sollol instance is closed" }

describe("after close()", () => {
  it("every method rejects with SollolError 503, from the call that follows close() on", async () => {
    const { sollol } = await start(200)
    const closing = sollol.close()
    expect(sollol.closed).toBe(true)
    // called in the same tick as close(), before it resolved
    const early = sollol.stats().catch((e: unknown) => e)
    expect(sollol.close()).toBe(closing)
    await closing
    expect(await early).toBeInstanceOf(SollolError)
    expect(await early).toMatchObject(closed)
    const calls: Record<string, () => Promise<unknown>> = {
      chat: () => sollol.chat(ask(4)),
      streamedChat: () => sollol.chat({ ...ask(4), stream: true }),
      generate: () => sollol.generate({ model, prompt: "Hi" }),
      embed: () => sollol.embed({ model: "nomic-embed-text", input: "a" }),
      batchEmbed: () => sollol.batchEmbed(["a", "b"], { model: "nomic-embed-text" }),
      stats: () => sollol.stats(),
      nodes: () => sollol.nodes()
    }
    for (const [name, call] of Object.entries(calls)) {
      const error = await call().then(() => `${name} resolved`, (e: unknown) => e)
      expect(error, name).toBeInstanceOf(SollolError)
      expect(error, name).toMatchObject(closed)
    }
    await expect(sollol.close()).resolves.toBeUndefined()
  })

  it("rejects a negative grace without closing", async () => {
    const { sollol } = await start(200)
    await expect(sollol.close({ graceMs: -1 })).rejects.toMatchObject({ status: 400 })
    expect(sollol.closed).toBe(false)
    expect((await sollol.chat(ask(4))).done).toBe(true)
  })
})

describe("close() with calls running", () => {
  it("lets them finish within the grace, streams included, and refuses new ones meanwhile", async () => {
    const { sim, sollol } = await start(200)
    const stream = await sollol.chat({ ...ask(40), stream: true })
    const plain = sollol.chat(ask(40))
    const batch = sollol.batchEmbed(Array.from({ length: 300 }, (_, i) => `doc ${i}`), { model: "nomic-embed-text", batchSize: 20, dimensions: 8 })
    const closing = sollol.close({ graceMs: 60_000 })
    await expect(sollol.chat(ask(4))).rejects.toMatchObject(closed)
    const read = await drain(stream)
    expect(read.error).toBeUndefined()
    expect(read.parts.at(-1)?.done).toBe(true)
    expect((await plain).done).toBe(true)
    expect((await batch).embeddings).toHaveLength(300)
    await closing
    expect(await nodeWork(sim)).toBe(0)
  })

  it("cancels what still runs at the deadline with 503, not 499, and frees the nodes", async () => {
    // timeScale 1 and 20,000 tokens: these calls run for minutes, far past a 50 ms grace
    const { sim, sollol } = await start(1)
    const stream = await sollol.chat({ ...ask(20_000), stream: true })
    const iterator = stream[Symbol.asyncIterator]()
    const first = await iterator.next()
    expect(first.done).toBe(false)
    const plain = sollol.chat(ask(20_000)).catch((e: unknown) => e)
    await sollol.close({ graceMs: 50 })
    const cut = { status: 503, message: "closed before the request finished" }
    const error = await (async () => {
      for (;;) if ((await iterator.next()).done === true) return undefined
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject(cut)
    expect(await plain).toBeInstanceOf(SollolError)
    expect(await plain).toMatchObject(cut)
    await expect.poll(() => nodeWork(sim)).toBe(0)
  })

  it("takes the grace from limits.shutdownGraceMs by default", async () => {
    const { sollol } = await start(1, { limits: { shutdownGraceMs: 0 } })
    const plain = sollol.chat(ask(20_000)).catch((e: unknown) => e)
    await sollol.close()
    expect(await plain).toMatchObject({ status: 503, message: "closed before the request finished" })
  })
})
