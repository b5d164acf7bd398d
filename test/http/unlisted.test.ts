/**
 * A node that never listed its models might have the one asked for: until every node has answered `/api/tags`,
 * "no node has it" is a 503 (try again), not Ollama's 404 (which clients read as "pull the model").
 */
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { makeAppConfig } from "../../src/AppConfig.js"
import { makeGateway } from "../../src/http/makeGateway.js"
import { startCluster } from "../support/cluster.js"

/** A loopback port nothing listens on (bound, then released). */
const refusingPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })

describe("a node that never answered", () => {
  it("makes an unknown-to-all model a 503 naming the silent nodes, not a 404", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const config = makeAppConfig({
        port: 0,
        database: ":memory:",
        logLevel: "none",
        nodes: [{ url: `http://127.0.0.1:${await refusingPort()}`, name: "down" }],
        health: { probeIntervalMs: 60_000, modelsIntervalMs: 60_000 }
      })
      const gateway = await Effect.runPromise(Scope.extend(makeGateway(config, { port: 0 }), scope))
      const res = await fetch(`${gateway.url}/api/chat`, {
        method: "POST",
        body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: false })
      })
      expect(res.status).toBe(503)
      expect(res.headers.get("retry-after")).not.toBeNull()
      expect(((await res.json()) as { error: string }).error).toMatch(/have not answered \/api\/tags yet/)
      // nor is the gateway healthy or ready while no node has listed its models
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(503)
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(503)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("404 or 503 when no node can serve a model", () => {
  it("answers 404 for a mistyped model once the node that never answered is excluded", async () => {
    const cluster = await startCluster({ timeScale: 200 })
    try {
      const dead = `http://127.0.0.1:${await refusingPort()}`
      expect((await fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: JSON.stringify({ url: dead, name: "dead" }) })).status).toBe(201)
      const ask = () => fetch(`${cluster.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "nonexist", prompt: "x", stream: false }) })
      const health = async () =>
        ((await (await fetch(`${cluster.url}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string; health: string }> })
          .nodes.find((n) => n.nodeId === "dead")?.health
      await expect.poll(health, { timeout: 10_000, interval: 50 }).toBe("excluded")
      const res = await ask()
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: "model 'nonexist' not found" })
    } finally {
      await cluster.close()
    }
  })

  it("answers requests of a node being removed, the only one with their model, as a removal, not a missing model", async () => {
    const cluster = await startCluster({ scenario: "modelsplit", timeScale: 20, config: { limits: { shutdownGraceMs: 300 } } })
    try {
      const generate = () =>
        fetch(`${cluster.url}/api/generate`, {
          method: "POST",
          body: JSON.stringify({ model: "llama3.2:3b", prompt: "a long story", stream: false, options: { num_predict: 50_000 } })
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } }))
      // llama-gpu has 4 slots: four run, the fifth waits in the queue
      const running = Array.from({ length: 4 }, generate)
      await expect.poll(async () => (await Effect.runPromise(cluster.node("llama-gpu").stats)).inFlight).toBe(4)
      const queued = generate()
      await new Promise((resolve) => setTimeout(resolve, 100))
      const removed = await fetch(`${cluster.url}/api/sollol/nodes?node=llama-gpu`, { method: "DELETE" })
      expect(removed.status).toBe(200)
      const waiting = await queued
      expect(waiting.status).toBe(503)
      expect(waiting.body.error).toBe("no routable node for model 'llama3.2:3b'")
      for (const r of await Promise.all(running)) {
        expect(r.status).toBe(502)
        expect(r.body.error).toMatch(/closed its connections to node llama-gpu/)
      }
    } finally {
      await cluster.close()
    }
  }, 30_000)
})
