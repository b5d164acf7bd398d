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
