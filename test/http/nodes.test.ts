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
