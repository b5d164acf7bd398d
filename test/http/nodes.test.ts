/** Node membership over HTTP: one physical node is registered once, whatever name or spelling of its URL is used. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

describe("POST /api/sollol/nodes", () => {
  let cluster: Cluster
  const add = (body: unknown) => fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: JSON.stringify(body) })
  const ids = async () =>
    ((await (await fetch(`${cluster.url}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string }> }).nodes.map((n) => n.nodeId)
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("refuses the URL of a registered node under another name with 409", async () => {
    const known = cluster.nodes[0]!
    const url = new URL(known.url)
    const spellings = [
      known.url,
      `${known.url}/`,
      `${known.url}//`,
      `HTTP://${url.hostname.toUpperCase()}:${url.port}/`
    ]
    for (const spelling of spellings) {
      const res = await add({ url: spelling, name: "twin" })
      expect(res.status, spelling).toBe(409)
      expect(await res.json(), spelling).toEqual({ error: `node ${known.url} is already registered as ${known.spec.name}` })
    }
    const unnamed = await add({ url: known.url })
    expect(unnamed.status).toBe(409)
    expect(await ids()).not.toContain("twin")
  })

  it("takes a URL with its scheme's default port for the same node as one without", async () => {
    const first = await add({ url: "http://127.0.0.1", name: "port-80" })
    expect(first.status).toBe(201)
    const again = await add({ url: "HTTP://127.0.0.1:80/", name: "port-80-again" })
    expect(again.status).toBe(409)
    expect(await again.json()).toEqual({ error: "node http://127.0.0.1 is already registered as port-80" })
  })

  it("still refuses a known name with 409", async () => {
    const res = await add({ url: "http://127.0.0.1:1", name: cluster.nodes[1]!.spec.name })
    expect(res.status).toBe(409)
    expect(((await res.json()) as { error: string }).error).toBe(`node '${cluster.nodes[1]!.spec.name}' already exists`)
  })

  it("registers one of two simultaneous adds of the same URL", async () => {
    const known = cluster.nodes[2]!
    const removed = await fetch(`${cluster.url}/api/sollol/nodes?node=${known.spec.name}`, { method: "DELETE" })
    expect(removed.status).toBe(200)
    const statuses = (await Promise.all([add({ url: known.url, name: "one" }), add({ url: known.url, name: "two" })])).map((r) => r.status)
    expect(statuses.sort()).toEqual([201, 409])
    expect((await ids()).filter((id) => id === "one" || id === "two")).toHaveLength(1)
  })
})

describe("control-plane requests at their edges", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200, config: { limits: { maxBodyBytes: 1024 } } })
  })
  afterAll(() => cluster.close())
  const post = (path: string, body: BodyInit) => fetch(`${cluster.url}${path}`, { method: "POST", body })

  it("refuses a body that is both an add and an action, instead of registering a node", async () => {
    const res = await post("/api/sollol/nodes", JSON.stringify({ node: "fast-gpu", action: "drain", url: "http://127.0.0.1:9" }))
    expect(res.status).toBe(400)
    const nodes = (await (await fetch(`${cluster.url}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string; health: string }> }
    expect(nodes.nodes.map((n) => n.nodeId).sort()).toEqual(["cpu", "fast-gpu", "mid-gpu"])
    expect(nodes.nodes.find((n) => n.nodeId === "fast-gpu")?.health).not.toBe("excluded")
  })

  it("holds node and key admin bodies to limits.maxBodyBytes, declared or chunked", async () => {
    const big = JSON.stringify({ url: "http://127.0.0.1:9", pad: "a".repeat(4_000) })
    const declared = await post("/api/sollol/nodes", big)
    expect(declared.status).toBe(413)
    expect(await declared.json()).toEqual({ error: "request body too large (limit 1024 bytes)" })
    // without a declared length too
    for (const path of ["/api/sollol/nodes", "/api/sollol/admin/keys"]) {
      const chunked = await fetch(`${cluster.url}${path}`, { method: "POST", body: new Blob([big]).stream(), duplex: "half" } as RequestInit)
      expect(chunked.status, path).toBe(413)
      expect(await chunked.json()).toEqual({ error: "request body too large (limit 1024 bytes)" })
    }
    // and a small chunked body is read as any other
    const small = JSON.stringify({ node: "fast-gpu", action: "include" })
    const ok = await fetch(`${cluster.url}/api/sollol/nodes`, { method: "POST", body: new Blob([small]).stream(), duplex: "half" } as RequestInit)
    expect(ok.status).toBe(200)
    const nodes = (await (await fetch(`${cluster.url}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string }> }
    expect(nodes.nodes.map((n) => n.nodeId)).not.toContain("127.0.0.1:9")
    const key = await post("/api/sollol/admin/keys", JSON.stringify({ name: "k", role: "user", pad: "a".repeat(4_000) }))
    expect(key.status).toBe(413)
  })

  it("registers a node behind a reverse proxy's path", async () => {
    const res = await post("/api/sollol/nodes", JSON.stringify({ url: "http://127.0.0.1:9/ollama/", name: "proxied" }))
    expect(res.status).toBe(201)
    const { node } = (await res.json()) as { node: { url: string; routable: boolean } }
    expect(node.url).toBe("http://127.0.0.1:9/ollama")
    // nothing answers there: not routable, as /healthz counts it, until its models are listed
    expect(node.routable).toBe(false)
    expect((await post("/api/sollol/nodes", JSON.stringify({ url: "http://127.0.0.1:9/?q=1" }))).status).toBe(400)
    await fetch(`${cluster.url}/api/sollol/nodes?node=proxied`, { method: "DELETE" })
  })

  it("answers HEAD on its own GET routes, and keeps Ollama's method table on Ollama's", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/dashboard", "/api/sollol/stats"]) {
      const res = await fetch(`${cluster.url}${path}`, { method: "HEAD" })
      expect(res.status, path).toBe(200)
      expect(await res.text(), path).toBe("")
    }
    expect((await fetch(`${cluster.url}/api/ps`, { method: "HEAD" })).status).toBe(405)
    // the event stream's head alone (its body never ends), and a decision by id as GET finds it
    const events = await fetch(`${cluster.url}/api/sollol/events`, { method: "HEAD", signal: AbortSignal.timeout(5_000) })
    expect(events.status).toBe(200)
    expect(events.headers.get("content-type")).toBe("text/event-stream")
    const done = await fetch(`${cluster.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: false })
    })
    const id = done.headers.get("x-sollol-request-id")!
    expect((await fetch(`${cluster.url}/api/sollol/decisions/${id}`, { method: "HEAD" })).status).toBe(200)
  })
})
