/** A handler that throws still answers its request: a 500 in the route family's shape, or a cut stream. */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { answeringDefects } from "../../src/http/gateway.js"

describe("answeringDefects", () => {
  it("answers 500 instead of leaving the request hanging, and logs the defect", async () => {
    const logged: Array<string> = []
    const server = createServer(answeringDefects((req, res) => {
      if (req.url === "/api/partial") res.writeHead(200).write("{")
      throw new URIError("URI malformed")
    }, (url, message) => logged.push(`${url} ${message}`)))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const native = await fetch(`${base}/api/tags`, { signal: AbortSignal.timeout(5_000) })
      expect(native.status).toBe(500)
      expect(await native.json()).toEqual({ error: "internal error: URI malformed" })
      const openai = await fetch(`${base}/v1/models/x`, { signal: AbortSignal.timeout(5_000) })
      expect(openai.status).toBe(500)
      expect(await openai.json()).toMatchObject({ error: { message: "internal error: URI malformed" } })
      // bytes already sent: the connection is cut, so the client sees a broken answer, not a complete one
      await expect(fetch(`${base}/api/partial`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text())).rejects.toThrow()
      expect(logged).toEqual(["/api/tags internal error: URI malformed", "/v1/models/x internal error: URI malformed", "/api/partial internal error: URI malformed"])
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
