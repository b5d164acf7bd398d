/**
 * The gateway's edge under failure: client disconnects, bad input, membership changes with requests in flight,
 * and graceful shutdown, against real sim nodes over HTTP.
 */
import { Effect } from "effect"
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const MODEL = "llama3.2:3b"
const statsOf = (cluster: Cluster) => Promise.all(cluster.nodes.map((n) => Effect.runPromise(n.node.stats)))
const served = async (cluster: Cluster) => (await statsOf(cluster)).reduce((s, x) => s + (x.perModel[MODEL] ?? 0), 0)

interface NodeView { readonly nodeId: string; readonly inFlight: number; readonly health: string }
const nodesOf = async (cluster: Cluster): Promise<ReadonlyArray<NodeView>> =>
  ((await (await fetch(`${cluster.url}/api/sollol/nodes`)).json()) as { nodes: Array<NodeView> }).nodes

/** Polls until `check` holds (bounded by tries, not by a clock). */
const eventually = async (check: () => Promise<boolean>, tries = 200) => {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setTimeout(r, 10))
  }
  return false
}

const chat = (url: string, extra: Record<string, unknown> = {}, init: RequestInit = {}) =>
  fetch(`${url}/api/chat`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], options: { num_predict: 4 }, stream: false, ...extra }),
    ...init
  })

describe("edge: cancellation and bad input", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 20, config: { limits: { maxBodyBytes: 64 * 1024 } } })
  })
  afterAll(() => cluster.close())

  it("a client disconnect mid-stream aborts the upstream request and frees its slot", async () => {
    const abort = new AbortController()
    // minutes of generation even at this time scale: still running when the first chunk is read, however slow the machine
    const res = await chat(cluster.url, { stream: true, options: { num_predict: 100_000 } }, { signal: abort.signal })
    const reader = res.body!.getReader()
    await reader.read()
    expect((await statsOf(cluster)).some((s) => s.inFlight > 0)).toBe(true)
    abort.abort()
    await reader.cancel().catch(() => undefined)
    expect(await eventually(async () => (await statsOf(cluster)).every((s) => s.inFlight === 0))).toBe(true)
    expect(await eventually(async () => (await nodesOf(cluster)).every((n) => n.inFlight === 0))).toBe(true)
  })

  it("answers bad input with Ollama-style errors, and nothing reaches a node", async () => {
    const before = await served(cluster)
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${cluster.url}${path}`, { method: "POST", body, headers })
    const cases: Array<[string, Promise<Response>, number]> = [
      ["malformed JSON", post("/api/chat", "{not json"), 400],
      ["empty body", post("/api/chat", ""), 400],
      ["array body", post("/api/chat", "[1,2]"), 400],
      ["missing model", post("/api/chat", JSON.stringify({ messages: [] })), 400],
      ["model of the wrong type", post("/api/chat", JSON.stringify({ model: 42 })), 400],
      ["messages of the wrong type", post("/api/chat", JSON.stringify({ model: MODEL, messages: "hi" })), 400],
      ["unknown model", post("/api/chat", JSON.stringify({ model: "nope:1b", messages: [] })), 404],
      ["priority out of range", post("/api/chat", JSON.stringify({ model: MODEL, priority: 11 })), 400],
      ["priority not a number", post("/api/generate", JSON.stringify({ model: MODEL, priority: "high" })), 400],
      ["priority header not a number", post("/api/generate", JSON.stringify({ model: MODEL }), { "x-sollol-priority": "x" }), 400],
      ["option of the wrong type", post("/api/generate", JSON.stringify({ model: MODEL, prompt: "hi", options: { num_predict: "x" } })), 400],
      ["stop not strings", post("/api/chat", JSON.stringify({ model: MODEL, messages: [], options: { stop: [1] } })), 400],
      ["options not an object", post("/api/embed", JSON.stringify({ model: MODEL, input: "hi", options: "fast" })), 400],
      ["oversized body", post("/api/chat", JSON.stringify({ model: MODEL, prompt: "x".repeat(100_000) })), 413],
      ["wrong method", fetch(`${cluster.url}/api/chat`), 405],
      ["unknown path", post("/api/nope", "{}"), 404]
    ]
    for (const [name, pending, status] of cases) {
      const res = await pending
      expect(res.status, name).toBe(status)
      const body = (await res.json()) as { error?: unknown }
      expect(typeof body.error, name).toBe("string")
    }
    const huge = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${cluster.url}/api/chat`, { method: "POST", headers: { "x-big": "a".repeat(64 * 1024) } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
      req.end("{}")
    })
    expect([400, 431]).toContain(huge)
    expect(await served(cluster)).toBe(before)
    const ok = await chat(cluster.url)
    expect(ok.status).toBe(200)
    expect(await served(cluster)).toBe(before + 1)
  })
})

describe("edge: membership and shutdown", () => {
  it("drains and removes a node without dropping its in-flight request, then adds it back", async () => {
    const cluster = await startCluster({ scenario: "homogeneous3", timeScale: 20 })
    try {
      const target = cluster.nodes[0]!
      const id = target.spec.name
      // Only the target is routable, so the long request lands on it.
      for (const other of cluster.nodes.slice(1)) {
        await fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: JSON.stringify({ node: other.spec.name, action: "drain" }) })
      }
      // about 1 s of wall time: long enough to be seen in flight on a loaded machine
      const long = chat(cluster.url, { options: { num_predict: 6_000 } })
      expect(await eventually(async () => (await nodesOf(cluster)).some((n) => n.nodeId === id && n.inFlight === 1))).toBe(true)
      for (const other of cluster.nodes.slice(1)) {
        await fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: JSON.stringify({ node: other.spec.name, action: "include" }) })
      }
      const removing = fetch(`${cluster.url}/api/sollol/nodes?node=${id}`, { method: "DELETE" })
      const res = await long
      expect(res.status).toBe(200)
      expect(res.headers.get("x-sollol-node")).toBe(id)
      expect(((await res.json()) as { done: boolean }).done).toBe(true)
      expect((await removing).status).toBe(200)
      expect((await nodesOf(cluster)).map((n) => n.nodeId)).not.toContain(id)
      const readded = await fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: JSON.stringify({ url: target.url, name: id }) })
      expect(readded.status).toBe(201)
      expect((await nodesOf(cluster)).map((n) => n.nodeId)).toContain(id)
      expect((await chat(cluster.url)).status).toBe(200)
    } finally {
      await cluster.close()
    }
  })

  it("shuts down gracefully: an in-flight stream finishes, new connections are refused", async () => {
    const cluster = await startCluster({ timeScale: 20 })
    const res = await chat(cluster.url, { stream: true, options: { num_predict: 1_000 } })
    const text = res.text()
    const closing = cluster.close()
    const lines = (await text).trim().split("\n").map((l) => JSON.parse(l) as { done?: boolean; error?: string })
    expect(lines.at(-1)?.done).toBe(true)
    expect(lines.some((l) => l.error !== undefined)).toBe(false)
    await closing
    await expect(chat(cluster.url)).rejects.toThrow()
  })

  it("cuts what is still running at the shutdown deadline", async () => {
    const cluster = await startCluster({ timeScale: 1, config: { limits: { shutdownGraceMs: 300 } } })
    // about 30 s of decoding at this time scale: far past the deadline
    const res = await chat(cluster.url, { stream: true, options: { num_predict: 4_000 } })
    const reader = res.body!.getReader()
    await reader.read()
    await cluster.close()
    // without the deadline, close would have waited for the whole answer, ending with `done: true`; at the deadline
    // the stream ends with an explicit error line and a proper end of the body (the read never throws)
    let text = ""
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value)
    expect(text).not.toContain(`"done":true`)
    const last = JSON.parse(text.trim().split("\n").at(-1)!) as { error?: string }
    expect(last.error).toBe("the gateway is shutting down")
  }, 60_000)
})
