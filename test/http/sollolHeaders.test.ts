/**
 * DESIGN §1: every response carries X-SOLLOL-Request-Id and X-SOLLOL-Attempts, and X-SOLLOL-Node where nodes
 * answered: the gateway's own answers, merged and fanned-out routes, and requests refused before any node was asked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const NODES = ["cpu", "fast-gpu", "mid-gpu"]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const nodesOf = (res: Response) => res.headers.get("x-sollol-node")?.split(",").sort()

describe("X-SOLLOL-* headers on every response", () => {
  let cluster: Cluster
  const call = (path: string, init: RequestInit = {}) => fetch(`${cluster.url}${path}`, init)
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("gives the gateway's own answers a request id and 0 attempts, and no node", async () => {
    const answers = [
      await call("/"),
      await call("/", { method: "HEAD" }),
      await call("/api/version"),
      await call("/healthz"),
      await call("/readyz"),
      await call("/api/sollol/nodes"),
      await call("/api/sollol/stats"),
      await call("/api/sollol/decisions"),
      await call("/api/sollol/nodes?node=ghost", { method: "DELETE" }),
      await call("/no/such/path"),
      await call("/api/chat"), // 405
      await call("/api/chat", { method: "OPTIONS" })
    ]
    for (const res of answers) {
      await res.arrayBuffer()
      const label = `${res.url} ${res.status}`
      expect(res.headers.get("x-sollol-request-id"), label).toMatch(UUID)
      expect(res.headers.get("x-sollol-attempts"), label).toBe("0")
      expect(res.headers.get("x-sollol-node"), label).toBeNull()
    }
    expect(new Set(answers.map((r) => r.headers.get("x-sollol-request-id"))).size).toBe(answers.length)
  })

  it("names every node that answered a merged route, and counts each one asked", async () => {
    for (const path of ["/api/tags", "/api/ps", "/v1/models", "/v1/models/llama3.2:3b", "/v1/models/nope"]) {
      const res = await call(path)
      await res.arrayBuffer()
      expect(res.headers.get("x-sollol-request-id"), path).toMatch(UUID)
      expect(res.headers.get("x-sollol-attempts"), path).toBe("3")
      expect(nodesOf(res), path).toEqual(NODES)
    }
  })

  it("names the nodes of a fan-out, streamed or not, and of a refused one names none", async () => {
    const pull = await call("/api/pull", { method: "POST", body: JSON.stringify({ model: "all-minilm" }) })
    await pull.text()
    expect(pull.headers.get("x-sollol-request-id")).toMatch(UUID)
    expect(pull.headers.get("x-sollol-attempts")).toBe("3")
    expect(nodesOf(pull)).toEqual(NODES)
    const deleted = await call("/api/delete", { method: "DELETE", body: JSON.stringify({ model: "all-minilm" }) })
    expect(deleted.status).toBe(200)
    expect(deleted.headers.get("x-sollol-attempts")).toBe("3")
    expect(nodesOf(deleted)).toEqual(NODES)
    const refused = await call("/api/pull", { method: "POST", body: "{}" })
    expect(refused.status).toBe(400)
    expect(refused.headers.get("x-sollol-request-id")).toMatch(UUID)
    expect(refused.headers.get("x-sollol-attempts")).toBe("0")
    expect(refused.headers.get("x-sollol-node")).toBeNull()
  })

  it("gives inference requests refused before routing a request id and 0 attempts", async () => {
    const chat = (body: string, headers: Record<string, string> = {}) => call("/api/chat", { method: "POST", body, headers })
    const ok = JSON.stringify({ model: "llama3.2:3b", messages: [], stream: false })
    const refused = [
      await chat(`{"model":`),
      await chat(JSON.stringify({ messages: [] })),
      await chat(ok, { "x-sollol-priority": "0" }),
      await chat(ok, { "x-sollol-priority": "11" }),
      await chat(ok, { "x-sollol-priority": "abc" }),
      await chat(JSON.stringify({ model: "llama3.2:3b", priority: "abc" })),
      await call("/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "llama3.2:3b", messages: [] }) })
    ]
    for (const res of refused) {
      await res.arrayBuffer()
      expect(res.status).toBe(400)
      expect(res.headers.get("x-sollol-request-id")).toMatch(UUID)
      expect(res.headers.get("x-sollol-attempts")).toBe("0")
      expect(res.headers.get("x-sollol-node")).toBeNull()
    }
  })

  it("gives a batch embedding that fails before any chunk landed a request id and 0 attempts", async () => {
    const input = Array.from({ length: 80 }, (_, i) => `doc ${i}`)
    const res = await call("/api/embed", { method: "POST", body: JSON.stringify({ model: "no-such-model", input }) })
    expect(res.status).toBe(404)
    await res.arrayBuffer()
    expect(res.headers.get("x-sollol-request-id")).toMatch(UUID)
    expect(res.headers.get("x-sollol-attempts")).toBe("0")
    expect(res.headers.get("x-sollol-node")).toBeNull()
  })

  it("keeps a client's plain request id, as inference does, and replaces one that is not plain", async () => {
    const own = await call("/api/tags", { headers: { "x-sollol-request-id": "trace-42" } })
    expect(own.headers.get("x-sollol-request-id")).toBe("trace-42")
    const refused = await call("/api/chat", { method: "POST", body: "{}", headers: { "x-sollol-request-id": "trace-43" } })
    expect(refused.headers.get("x-sollol-request-id")).toBe("trace-43")
    const routed = await call("/api/chat", {
      method: "POST",
      headers: { "x-sollol-request-id": "trace-44" },
      body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: false, options: { num_predict: 2 } })
    })
    expect(routed.headers.get("x-sollol-request-id")).toBe("trace-44")
    expect(routed.headers.get("x-sollol-attempts")).toBe("1")
    expect(NODES).toContain(routed.headers.get("x-sollol-node"))
    const odd = await call("/api/version", { headers: { "x-sollol-request-id": "not plain!" } })
    expect(odd.headers.get("x-sollol-request-id")).toMatch(UUID)
  })

  it("exposes the headers to browsers on every route, as on inference", async () => {
    for (const path of ["/api/version", "/api/tags", "/api/sollol/nodes"]) {
      const res = await call(path, { headers: { origin: "http://localhost:3000" } })
      await res.arrayBuffer()
      expect(res.headers.get("access-control-allow-origin"), path).toBe("http://localhost:3000")
      expect(res.headers.get("access-control-expose-headers"), path).toBe("X-SOLLOL-Request-Id, X-SOLLOL-Node, X-SOLLOL-Attempts")
    }
  })
})
