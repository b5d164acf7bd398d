/** A node behind a reverse proxy under a path: every request, probes included, goes below that path. */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { NodeId } from "../../src/domain/NodeId.js"
import { makeHttpUpstream } from "../../src/runtime/httpUpstream.js"

describe("makeHttpUpstream with a base path", () => {
  it("prefixes every request path with the node URL's path, and sends the node's host", async () => {
    const seen: Array<string> = []
    const server = createServer((req, res) => {
      seen.push(`${req.headers.host} ${req.url}`)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      for (const base of [`${origin}/ollama/`, `${origin}/ollama`, origin, `${origin}/`]) {
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const upstream = yield* makeHttpUpstream("n" as NodeId, base)
          yield* upstream.send({ method: "GET", path: "/api/version?x=1", headers: {}, body: undefined }, () => ({ write: () => undefined }))
        })))
      }
      const host = origin.slice("http://".length)
      expect(seen).toEqual([
        `${host} /ollama/api/version?x=1`,
        `${host} /ollama/api/version?x=1`,
        `${host} /api/version?x=1`,
        `${host} /api/version?x=1`
      ])
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
