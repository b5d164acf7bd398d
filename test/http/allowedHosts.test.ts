/** DNS-rebinding protection as Ollama has it: on loopback, only local host names reach the gateway. */
import { request } from "node:http"
import type { IncomingMessage } from "node:http"
import { hostname } from "node:os"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hostOf, makeHostGuard } from "../../src/http/allowedHosts.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const withHost = (host: string | undefined) => ({ headers: host === undefined ? {} : { host } }) as IncomingMessage

describe("makeHostGuard", () => {
  const guard = makeHostGuard("127.0.0.1")!

  it("accepts local names and addresses, as Ollama does", () => {
    for (
      const host of [
        undefined,
        "localhost",
        "LOCALHOST:8000",
        "127.0.0.1:8000",
        "127.8.9.1",
        "[::1]:8000",
        "0.0.0.0:8000",
        "10.1.2.3",
        "172.20.0.5:8000",
        "192.168.1.9",
        "[fd00::1]:8000",
        "gpu-box.local",
        "app.localhost:3000",
        "svc.internal",
        hostname()
      ]
    ) expect(guard(withHost(host)), String(host)).toBe(true)
  })

  it("refuses any other name or public address", () => {
    for (const host of ["evil.example", "evil.example:8000", "8.8.8.8", "[2001:db8::1]:8000", "localhost.evil.example"]) {
      expect(guard(withHost(host)), host).toBe(false)
    }
  })

  it("checks nothing off loopback, and accepts the names configured", () => {
    expect(makeHostGuard("0.0.0.0")).toBeUndefined()
    expect(makeHostGuard("127.0.0.1", ["*"])).toBeUndefined()
    const withProxy = makeHostGuard("127.0.0.1", ["API.example.com"])!
    expect(withProxy(withHost("api.example.com:443"))).toBe(true)
    expect(withProxy(withHost("evil.example"))).toBe(false)
    const withDomain = makeHostGuard("127.0.0.1", ["*.corp.example"])!
    expect(withDomain(withHost("api.corp.example:8000"))).toBe(true)
    expect(withDomain(withHost("corp.example"))).toBe(false)
    expect(withDomain(withHost("evilcorp.example"))).toBe(false)
  })

  it("reads the host out of a Host header", () => {
    expect(hostOf("[::1]:8000")).toBe("::1")
    expect(hostOf("Gpu-1:8000")).toBe("gpu-1")
    expect(hostOf("::1")).toBe("::1")
    expect(hostOf("gpu-1")).toBe("gpu-1")
  })
})

describe("a gateway on loopback", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200, config: { limits: { allowedHosts: ["api.example.com"] } } })
  })
  afterAll(() => cluster.close())

  const get = (path: string, host: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(path, cluster.url)
      const req = request({ host: url.hostname, port: url.port, path, headers: { host } }, (res) => {
        let body = ""
        res.on("data", (c: Buffer) => (body += c.toString()))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on("error", reject)
      req.end()
    })

  it("answers 403 with Ollama's error shape to a request naming a foreign host", async () => {
    const refused = await get("/api/tags", "evil.example:8000")
    expect(refused.status).toBe(403)
    expect(JSON.parse(refused.body).error).toMatch(/host 'evil.example:8000' is not allowed/)
    const openai = await get("/v1/models", "evil.example")
    expect(openai.status).toBe(403)
    expect(JSON.parse(openai.body).error.message).toMatch(/not allowed/)
  })

  it("serves local names and the configured ones", async () => {
    expect((await get("/api/tags", `localhost:${new URL(cluster.url).port}`)).status).toBe(200)
    expect((await get("/api/version", "api.example.com")).status).toBe(200)
  })
})
