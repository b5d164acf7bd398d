/**
 * The statuses an embedded call ends with are the gateway's: a node breaking a stream is 502 (as `connect()` sees
 * it), a defect inside SOLLOL is 500, and 499 means only that the caller aborted.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { SollolError } from "../../src/client/SollolError.js"
import { askChat, embeddedPerTest } from "./support.js"

const ask = askChat
const start = embeddedPerTest()

/** Reads a stream to its end and returns what it threw (undefined when it ended normally). */
const errorOf = async (stream: AsyncIterable<unknown>, onChunk: () => void = () => undefined) => {
  try {
    for await (const _ of stream) onChunk()
    return undefined
  } catch (error) {
    return error
  }
}

describe("embedded error statuses", () => {
  it("a node cutting a stream short ends it with 502 'upstream failed mid-stream', not 499", async () => {
    const { sim, sollol } = await start(200)
    await Effect.runPromise(Effect.forEach(["fast-gpu", "mid-gpu", "cpu"], (n) => sim.node(n).setFault({ mode: "truncate", afterChunks: 2 })))
    const error = await errorOf(await sollol.chat({ ...ask(40), stream: true }))
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject({ status: 502, message: expect.stringMatching(/^upstream failed mid-stream: /) })
  })

  it("a defect inside the runtime gives 500 'internal error', not 499", async () => {
    // every inference call dies (a bug on the dispatch path); the probes still reach the nodes
    const { sollol } = await start(200, (cluster) => ({
      routing: { maxAttempts: 1 },
      upstreamFactory: (nodeId, url) =>
        Effect.map(cluster.upstreamFactory(nodeId, url), (upstream) => ({
          ...upstream,
          send: (request, accept, options) =>
            /^\/api\/(chat|generate)/.test(request.path) ? Effect.die(new Error("a bug")) : upstream.send(request, accept, options)
        }))
    }))
    const error = await sollol.chat(ask(4)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject({ status: 500, message: expect.stringMatching(/^internal error/) })
  })

  it("the caller's abort is 499, mid-stream too", async () => {
    const { sollol } = await start(1)
    const controller = new AbortController()
    const stream = await sollol.chat({ ...ask(20_000), stream: true }, { signal: controller.signal })
    const error = await errorOf(stream, () => controller.abort())
    expect(error).toBeInstanceOf(SollolError)
    expect(error).toMatchObject({ status: 499, message: "request aborted" })
  })
})
