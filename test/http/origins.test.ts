/**
 * CORS as Ollama enforces it: a browser request from a foreign origin is refused before its route runs. With auth
 * off by default on loopback, a "simple" cross-origin POST (text/plain, no preflight) would otherwise reach the
 * admin routes: a page the user visits could add its own server as a node or drain the cluster.
 */
import type { IncomingMessage } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeOriginCheck } from "../../src/http/cors.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const request = (origin: string | undefined, host = "127.0.0.1:8000") =>
  ({ headers: { host, ...(origin !== undefined ? { origin } : {}) } }) as IncomingMessage

describe("makeOriginCheck", () => {
  it("passes local and app origins, the gateway's own, and no origin at all; refuses the rest", () => {
    const check = makeOriginCheck([])
    for (const origin of [undefined, "http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443", "app://x", "vscode-webview://abc"]) {
      expect(check(request(origin)), String(origin)).toBe(true)
    }
    expect(check(request("https://llm.corp.example", "llm.corp.example"))).toBe(true)
    for (const origin of ["https://evil.example", "http://localhost.evil.example", "null", "https://127.0.0.1.evil.example"]) {
      expect(check(request(origin)), origin).toBe(false)
    }
  })

  it("passes the configured origins: exact, a domain's subdomains, or any", () => {
    const check = makeOriginCheck(["https://chat.example.com", "https://*.corp.example"])
    expect(check(request("https://chat.example.com"))).toBe(true)
    expect(check(request("https://ui.corp.example"))).toBe(true)
    expect(check(request("https://corp.example"))).toBe(false)
    expect(check(request("https://chat.example.com.evil.example"))).toBe(false)
    expect(makeOriginCheck(["*"])(request("https://anything.example"))).toBe(true)
  })
})

describe("a foreign origin at the gateway", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("gets 403 before the admin route runs, and the cluster is unchanged", async () => {
    const before = await (await fetch(`${cluster.url}/api/sollol/nodes`)).json() as { nodes: Array<{ nodeId: string; health: string }> }
    const add = await fetch(`${cluster.url}/api/sollol/nodes`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "text/plain;charset=UTF-8" },
      body: JSON.stringify({ url: "http://127.0.0.1:9", name: "attacker" })
    })
    expect(add.status).toBe(403)
    expect(await add.json()).toEqual({ error: "origin 'https://evil.example' is not allowed (see limits.allowedOrigins)" })
    const drain = await fetch(`${cluster.url}/api/sollol/nodes`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "text/plain" },
      body: JSON.stringify({ node: "fast-gpu", action: "drain" })
    })
    expect(drain.status).toBe(403)
    const after = await (await fetch(`${cluster.url}/api/sollol/nodes`)).json() as { nodes: Array<{ nodeId: string; health: string }> }
    expect(after.nodes.map((n) => [n.nodeId, n.health])).toEqual(before.nodes.map((n) => [n.nodeId, n.health]))
    // a local page is served, with the CORS headers
    const local = await fetch(`${cluster.url}/api/version`, { headers: { origin: "http://localhost:3000" } })
    expect(local.status).toBe(200)
    expect(local.headers.get("access-control-allow-origin")).toBe("http://localhost:3000")
  })
})

describe("an origin the gateway allows", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200, config: { limits: { allowedOrigins: ["https://app.example"] } } })
  })
  afterAll(() => cluster.close())

  it("reaches nodes that enforce Ollama's CORS: the gateway's call to a node carries no browser origin", async () => {
    // the simulated nodes refuse a foreign origin as Ollama does, before any route
    const direct = await fetch(`${cluster.nodes[0]!.url}/api/version`, { headers: { origin: "https://app.example" } })
    expect(direct.status).toBe(403)
    const res = await fetch(`${cluster.url}/api/chat`, {
      method: "POST",
      headers: { origin: "https://app.example" },
      body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: false })
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example")
  })
})
