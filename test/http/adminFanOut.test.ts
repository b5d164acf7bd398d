/**
 * The admin fan-out (`/api/pull`, `/api/create`, `/api/copy`, `/api/delete`): a failure on any node is never
 * reported as success, every node's error reaches the client, and bodies the nodes would refuse are refused first.
 */
import { Ollama } from "ollama"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"
import { json, ndjson, startFakeCluster } from "./fakeOllama.js"
import type { FakeCluster, Script } from "./fakeOllama.js"

const NODES = ["fast-gpu", "mid-gpu", "cpu"]

const send = (url: string, path: string, body: unknown, method = "POST") =>
  fetch(`${url}${path}`, { method, body: typeof body === "string" ? body : JSON.stringify(body) })

const linesOf = async (res: Response) =>
  (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)

describe("admin fan-out over simulated nodes", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ scenario: "hetero3", timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("relays every node's error line and ends the stream of a model no node has with an error", async () => {
    const res = await send(cluster.url, "/api/pull", { model: "tinyllama" })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/x-ndjson")
    const lines = await linesOf(res)
    for (const node of NODES) {
      expect(lines).toContainEqual({ status: "pulling manifest", node })
      expect(lines).toContainEqual({ error: "pull model manifest: file does not exist", node })
    }
    expect(lines.some((l) => l.status === "success")).toBe(false)
    const last = lines[lines.length - 1]!
    expect(Object.keys(last)).toEqual(["error"])
    for (const node of NODES) expect(last.error).toContain(`${node}: pull model manifest: file does not exist`)
  })

  it("makes ollama-js's streamed pull throw when the nodes fail", async () => {
    const ollama = new Ollama({ host: cluster.url })
    const consume = async () => {
      for await (const part of await ollama.pull({ model: "tinyllama", stream: true })) expect(part.status).not.toBe("success")
    }
    await expect(consume()).rejects.toThrow(/file does not exist/)
  })

  it("answers a plain pull of a model no node has with the nodes' status and errors", async () => {
    const res = await send(cluster.url, "/api/pull", { model: "tinyllama", stream: false })
    expect(res.status).toBe(500)
    expect(((await res.json()) as { error: string }).error).toContain("fast-gpu: pull model manifest: file does not exist")
  })

  it("refuses a body without a usable model with 400 before anything is streamed", async () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, string?]> = [
      ["/api/pull", {}, "invalid model name"],
      ["/api/pull", { model: "" }, "invalid model name"],
      ["/api/pull", { model: 5 }, "json: cannot unmarshal number into Go struct field PullRequest.model of type string"],
      ["/api/pull", { name: ["x"] }, "json: cannot unmarshal array into Go struct field PullRequest.name of type string"],
      ["/api/pull", { model: "x", stream: "yes" }, "json: cannot unmarshal string into Go struct field PullRequest.stream of type bool"],
      ["/api/create", { from: "llama3.2" }, "invalid model name"],
      ["/api/delete", {}, `name "" is invalid`, "DELETE"],
      ["/api/delete", { name: 1 }, "json: cannot unmarshal number into Go struct field DeleteRequest.name of type string", "DELETE"],
      ["/api/copy", { destination: "b" }, `source "" is invalid`],
      ["/api/copy", { source: "llama3.2:3b" }, `destination "" is invalid`],
      ["/api/pull", "", "missing request body"]
    ]
    for (const [path, body, error, method] of cases) {
      const res = await send(cluster.url, path, body, method)
      const label = `${path} ${JSON.stringify(body)}`
      expect(res.status, label).toBe(400)
      expect(res.headers.get("content-type"), label).toContain("application/json")
      expect(await res.json(), label).toEqual({ error })
    }
  })

  it("answers 404 for an unknown ?node= on every fan-out route", async () => {
    for (const [path, method, body] of [
      ["/api/pull", "POST", { model: "all-minilm" }],
      ["/api/create", "POST", { model: "x", from: "llama3.2:3b" }],
      ["/api/copy", "POST", { source: "llama3.2:3b", destination: "y" }],
      ["/api/delete", "DELETE", { model: "llama3.2:3b" }]
    ] as const) {
      const res = await send(cluster.url, `${path}?node=ghost`, body, method)
      expect(res.status, path).toBe(404)
      expect(await res.json(), path).toEqual({ error: "node 'ghost' not found" })
    }
  })

  it("answers Ollama's 404 when no node has the model to delete or copy", async () => {
    const deleted = await send(cluster.url, "/api/delete", { model: "nope" }, "DELETE")
    expect(deleted.status).toBe(404)
    expect(await deleted.json()).toEqual({ error: "model 'nope' not found" })
    const copied = await send(cluster.url, "/api/copy", { source: "nope", destination: "y" })
    expect(copied.status).toBe(404)
    expect(await copied.json()).toEqual({ error: `model "nope" not found` })
  })
})

const pullOk: Script = (res) =>
  ndjson(res, [
    { status: "pulling manifest" },
    { status: "pulling abc", digest: "sha256:abc", total: 10, completed: 10 },
    { status: "success" }
  ])
const pullFails: Script = (res) => ndjson(res, [{ status: "pulling manifest" }, { error: "pull model manifest: file does not exist" }])
const cutShort: Script = (res) => ndjson(res, [{ status: "pulling manifest" }])
const refuse = (status: number, error: string): Script => (res) => json(res, status, { error })
const emptyOk: Script = (res) => {
  res.writeHead(200, { "content-length": "0" })
  res.end()
}

describe("admin fan-out over scripted nodes", () => {
  const clusters: Array<FakeCluster> = []
  const start = async (nodes: Parameters<typeof startFakeCluster>[0], config?: Parameters<typeof startFakeCluster>[1]) => {
    const c = await startFakeCluster(nodes, config)
    clusters.push(c)
    return c
  }
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.close()))
  })

  it("streams the nodes that succeed, relays the one that fails, and ends with an error naming only it", async () => {
    const c = await start({ a: { "/api/pull": pullOk }, b: { "/api/pull": pullFails } })
    const res = await send(c.url, "/api/pull", { model: "m" })
    expect(res.status).toBe(200)
    expect(res.headers.get("x-sollol-attempts")).toBe("2")
    expect(res.headers.get("x-sollol-node")?.split(",").sort()).toEqual(["a", "b"])
    const lines = await linesOf(res)
    expect(lines).toContainEqual({ status: "pulling abc", digest: "sha256:abc", total: 10, completed: 10, node: "a" })
    expect(lines).toContainEqual({ error: "pull model manifest: file does not exist", node: "b" })
    expect(lines.some((l) => l.status === "success")).toBe(false)
    expect(lines[lines.length - 1]).toEqual({ error: "b: pull model manifest: file does not exist" })
  })

  it("ends with success only when every node sent its success", async () => {
    const c = await start({ a: { "/api/pull": pullOk }, b: { "/api/pull": pullOk } })
    const lines = await linesOf(await send(c.url, "/api/pull", { model: "m" }))
    expect(lines[lines.length - 1]).toEqual({ status: "success" })
    expect(lines.filter((l) => l.status === "success")).toHaveLength(1)
    const cut = await start({ a: { "/api/pull": pullOk }, b: { "/api/pull": cutShort } })
    const cutLines = await linesOf(await send(cut.url, "/api/pull", { model: "m" }))
    expect(cutLines.some((l) => l.status === "success")).toBe(false)
    expect(cutLines[cutLines.length - 1]).toEqual({ error: "b: the stream ended before success" })
  })

  it("passes through the 4xx every node answers before streaming, instead of a 200 stream", async () => {
    const c = await start({
      a: { "/api/pull": refuse(400, "invalid model name") },
      b: { "/api/pull": refuse(400, "invalid model name") }
    })
    const res = await send(c.url, "/api/pull", { model: "bad name" })
    expect(res.status).toBe(400)
    expect(res.headers.get("content-type")).toContain("application/json")
    expect(res.headers.get("x-sollol-attempts")).toBe("2")
    const error = ((await res.json()) as { error: string }).error
    expect(error).toContain("a: invalid model name")
    expect(error).toContain("b: invalid model name")
  })

  it("relays a node's refusal as a tagged line when another node streams", async () => {
    const c = await start({ a: { "/api/pull": pullOk }, b: { "/api/pull": refuse(400, "invalid model name") } })
    const res = await send(c.url, "/api/pull", { model: "m" })
    expect(res.status).toBe(200)
    const lines = await linesOf(res)
    expect(lines).toContainEqual({ error: "invalid model name", node: "b" })
    expect(lines[lines.length - 1]).toEqual({ error: "b: invalid model name" })
  })

  it("merges a streamed create the same way", async () => {
    const createOk: Script = (res) => ndjson(res, [{ status: "using existing layer sha256:1" }, { status: "success" }])
    const createFails: Script = (res) => ndjson(res, [{ status: "parsing modelfile" }, { error: "invalid model reference: nope" }])
    const c = await start({ a: { "/api/create": createOk }, b: { "/api/create": createFails } })
    const res = await send(c.url, "/api/create", { model: "mine", from: "nope" })
    expect(res.status).toBe(200)
    const lines = await linesOf(res)
    expect(lines).toContainEqual({ status: "using existing layer sha256:1", node: "a" })
    expect(lines).toContainEqual({ error: "invalid model reference: nope", node: "b" })
    expect(lines[lines.length - 1]).toEqual({ error: "b: invalid model reference: nope" })
    const ok = await start({ a: { "/api/create": createOk }, b: { "/api/create": createOk } })
    const okLines = await linesOf(await send(ok.url, "/api/create", { model: "mine", from: "m" }))
    expect(okLines[okLines.length - 1]).toEqual({ status: "success" })
  })

  it("does not report a delete or a copy as done when one node failed", async () => {
    const c = await start({
      a: { "/api/delete": emptyOk, "/api/copy": emptyOk },
      b: { "/api/delete": refuse(500, "disk on fire"), "/api/copy": refuse(500, "disk on fire") }
    })
    const deleted = await send(c.url, "/api/delete", { name: "m" }, "DELETE")
    expect(deleted.status).toBe(500)
    expect(await deleted.json()).toEqual({ error: "b: disk on fire" })
    expect(deleted.headers.get("x-sollol-attempts")).toBe("2")
    const copied = await send(c.url, "/api/copy", { source: "m", destination: "n" })
    expect(copied.status).toBe(500)
    expect(await copied.json()).toEqual({ error: "b: disk on fire" })
    const plainPull = await start({ a: { "/api/pull": (res) => json(res, 200, { status: "success" }) }, b: { "/api/pull": refuse(500, "no space left") } })
    const pulled = await send(plainPull.url, "/api/pull", { model: "m", stream: false })
    expect(pulled.status).toBe(500)
    expect(await pulled.json()).toEqual({ error: "b: no space left" })
  })

  it("answers 200 with an empty body when every node deleted, naming them", async () => {
    const c = await start({ a: { "/api/delete": emptyOk }, b: { "/api/delete": emptyOk } })
    const res = await send(c.url, "/api/delete", { model: "m" }, "DELETE")
    expect(res.status).toBe(200)
    expect(await res.text()).toBe("")
    expect(res.headers.get("x-sollol-node")?.split(",").sort()).toEqual(["a", "b"])
    expect(res.headers.get("x-sollol-attempts")).toBe("2")
    expect(c.nodes.map((n) => n.calls)).toEqual([["/api/delete"], ["/api/delete"]])
  })

  it("streams the first node's lines while another has not answered yet", async () => {
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    const late: Script = (res) => void held.then(() => ndjson(res, [{ status: "success" }]))
    const c = await start({ a: { "/api/pull": pullOk }, b: { "/api/pull": late } })
    const res = await send(c.url, "/api/pull", { model: "m" })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let text = ""
    while (!text.includes("pulling abc")) text += new TextDecoder().decode((await reader.read()).value)
    release()
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value)
    expect(text.trim().split("\n").map((l) => JSON.parse(l))).toContainEqual({ status: "success" })
  })

  it("skips a node its failures took out, and says so, instead of waiting for it", async () => {
    const c = await start({ a: { "/api/pull": pullOk, "/api/generate": (res) => json(res, 500, { error: "boom" }) }, b: { "/api/pull": pullOk } })
    // take a out through its failures (b has no generate script: its 404s are not failures)
    for (let i = 0; i < 10; i++) {
      const nodes = (await (await fetch(`${c.url}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string; health: string }> }
      if (nodes.nodes.find((n) => n.nodeId === "a")?.health === "excluded") break
      await send(c.url, "/api/generate", { model: "m", prompt: "x", stream: false })
    }
    const res = await send(c.url, "/api/pull", { model: "m" })
    expect(res.headers.get("x-sollol-skipped")).toBe("a")
    const lines = await linesOf(res)
    expect(lines[0]).toEqual({ status: "skipped: excluded by health checks", node: "a" })
    expect(lines.at(-1)).toEqual({ status: "success" })
    // named, it is still asked
    const named = await send(c.url, "/api/pull?node=a", { model: "m", stream: false })
    expect(named.status).toBe(200)
  })

  it("waits for a plain pull as long as the nodes work: only a streamed call's head must come quickly", async () => {
    // Ollama answers a stream:false pull when the pull is done (ollama-js's default); here later than show's limit
    const slow: Script = (res) => void setTimeout(() => json(res, 200, { status: "success" }), 600)
    const c = await start({ a: { "/api/pull": slow }, b: { "/api/pull": slow } }, { timeouts: { show: { firstByteMs: 200 } } })
    const res = await send(c.url, "/api/pull", { model: "m", stream: false })
    expect([res.status, await res.json()]).toEqual([200, { status: "success" }])
  })
})
