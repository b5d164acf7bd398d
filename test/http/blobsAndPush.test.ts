/**
 * The routes a client uses around `/api/create` and to publish a model, through the gateway over simulated HTTP
 * nodes: blobs (HEAD: everywhere or not; POST: the upload teed to every node as it arrives), push (one node that
 * has the model) and status (ollama-api.md §2, §3.9, §3.11).
 */
import { createHash, randomBytes } from "node:crypto"
import { Ollama } from "ollama"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { request } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"
import { startFakeCluster } from "./fakeOllama.js"
import type { FakeCluster } from "./fakeOllama.js"

const digestOf = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

describe("blobs, push and status through the gateway", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("uploads a blob to every node as it arrives, and reports it present only once every node has it", async () => {
    // 8 MiB, sent in pieces: streamed through, never held whole
    const blob = randomBytes(8 * 1024 * 1024)
    const digest = digestOf(blob)
    const url = `${cluster.url}/api/blobs/${digest}`
    expect((await fetch(url, { method: "HEAD" })).status).toBe(404)
    let offset = 0
    const pieces = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (offset >= blob.length) return controller.close()
        controller.enqueue(blob.subarray(offset, offset += 1024 * 1024))
      }
    })
    const created = await fetch(url, { method: "POST", body: pieces, duplex: "half" } as RequestInit)
    expect(created.status).toBe(201)
    expect(created.headers.get("x-sollol-node")?.split(",").sort()).toEqual(["cpu", "fast-gpu", "mid-gpu"])
    for (const n of cluster.nodes) expect((await fetch(`${n.url}/api/blobs/${digest}`, { method: "HEAD" })).status).toBe(200)
    expect((await fetch(url, { method: "HEAD" })).status).toBe(200)
    expect((await fetch(url, { method: "POST", body: blob })).status).toBe(200)
  })

  it("passes a node's refusal of the upload on", async () => {
    const res = await fetch(`${cluster.url}/api/blobs/${digestOf(Buffer.from("other"))}`, { method: "POST", body: "this" })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toMatch(/digest mismatch, expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/)
  })

  it("pushes from one node that has the model, with ollama-js", async () => {
    const ollama = new Ollama({ host: cluster.url })
    const statuses: Array<string> = []
    for await (const part of await ollama.push({ model: "llama3.2:3b", stream: true })) statuses.push(part.status)
    expect(statuses[0]).toBe("retrieving manifest")
    expect(statuses.at(-1)).toBe("success")
    expect((await ollama.push({ model: "llama3.2:3b" })).status).toBe("success")
    const missing = await fetch(`${cluster.url}/api/push`, { method: "POST", body: JSON.stringify({ model: "nosuch" }) })
    expect(missing.status).toBe(404)
    const none = await fetch(`${cluster.url}/api/push`, { method: "POST", body: "{}" })
    expect([none.status, await none.json()]).toEqual([400, { error: "model is required" }])
  })

  it("relays /api/status from a node", async () => {
    const res = await fetch(`${cluster.url}/api/status`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ cloud: { disabled: true, source: "none" } })
  })
})

/** A node's view of one upload: its first bytes, then its end or its abort. */
const uploadWatcher = () => {
  let firstBytes: () => void = () => undefined
  let closed: (how: "end" | "abort") => void = () => undefined
  const watcher = {
    firstBytes: new Promise<void>((resolve) => (firstBytes = resolve)),
    closed: new Promise<"end" | "abort">((resolve) => (closed = resolve)),
    script: (req: IncomingMessage, res: ServerResponse) => {
      req.once("data", () => firstBytes())
      req.on("end", () => {
        closed("end")
        res.writeHead(201, { "content-length": "0" }).end()
      })
      req.on("aborted", () => closed("abort"))
      req.on("error", () => closed("abort"))
      req.resume()
    }
  }
  return watcher
}

describe("a blob upload on its way", () => {
  const clusters: Array<FakeCluster> = []
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.close()))
  })
  const start = async (a: ReturnType<typeof uploadWatcher>, b: ReturnType<typeof uploadWatcher>) => {
    const c = await startFakeCluster({ a: {}, b: {} }, {}, { a: { "/api/blobs/": a.script }, b: { "/api/blobs/": b.script } })
    clusters.push(c)
    return c
  }
  /** Starts an upload of `first`; `finish(rest)` ends it, `abort()` hangs up. */
  const upload = (url: string, first: string) => {
    const req = request(`${url}/api/blobs/sha256:${"0".repeat(64)}`, { method: "POST" })
    const status = new Promise<number>((resolve, reject) => {
      req.on("response", (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
    })
    req.write(first)
    return { status, finish: (rest: string) => req.end(rest), abort: () => req.destroy() }
  }

  it("reaches every node before the client has sent all of it", async () => {
    const [a, b] = [uploadWatcher(), uploadWatcher()]
    const c = await start(a, b)
    const up = upload(c.url, "first part ")
    // both nodes see bytes while the client still holds the rest back
    await Promise.all([a.firstBytes, b.firstBytes])
    up.finish("last part")
    expect(await up.status).toBe(201)
    expect(await Promise.all([a.closed, b.closed])).toEqual(["end", "end"])
  })

  it("ends the nodes' uploads when the client hangs up", async () => {
    const [a, b] = [uploadWatcher(), uploadWatcher()]
    const c = await start(a, b)
    const up = upload(c.url, "first part ")
    up.status.catch(() => undefined)
    await Promise.all([a.firstBytes, b.firstBytes])
    up.abort()
    expect(await Promise.all([a.closed, b.closed])).toEqual(["abort", "abort"])
  })
})
