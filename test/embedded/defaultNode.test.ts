/**
 * Like `sollol serve`, createSollol with no node configured uses the local Ollama at http://127.0.0.1:11434. The
 * upstream factory stands a simulated node in for it, so no socket is opened.
 */
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import type { UpstreamFactory } from "../../src/runtime/Sollol.js"

let scope: Scope.CloseableScope | undefined
let sollol: Sollol | undefined
afterEach(async () => {
  await sollol?.close({ graceMs: 0 })
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  sollol = scope = undefined
})

/** A factory that serves any node from one simulated node, and the URLs it was asked for. */
const localOllama = async () => {
  scope = Effect.runSync(Scope.make())
  const node = await Effect.runPromise(Scope.extend(
    makeSimNode({ name: "local", profile: "gpu-consumer", models: ["llama3.2:3b"], preload: ["llama3.2:3b"], timeScale: 200 }),
    scope
  ))
  const asked: Array<string> = []
  const upstreamFactory: UpstreamFactory = (nodeId, url) => {
    asked.push(url)
    return Effect.succeed(simUpstream(node, nodeId))
  }
  return { asked, upstreamFactory }
}

describe("createSollol with no node configured", () => {
  it.each([["missing", {}], ["empty", { nodes: [] }]] as const)("(%s nodes) routes to http://127.0.0.1:11434", async (_, nodes) => {
    const { asked, upstreamFactory } = await localOllama()
    sollol = await createSollol({ ...nodes, upstreamFactory, database: ":memory:", logLevel: "none" })
    expect(asked).toEqual(["http://127.0.0.1:11434"])
    expect((await sollol.nodes()).map((n) => [n.nodeId, n.url])).toEqual([["127.0.0.1:11434", "http://127.0.0.1:11434"]])
    const res = await sollol.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hi" }], options: { num_predict: 4 } })
    expect((res._sollol_routing as { node: string }).node).toBe("127.0.0.1:11434")
  })
})
