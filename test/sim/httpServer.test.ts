/** Wire behaviour of the HTTP sim node: gin's 404/405 text, 400s, HEAD, NDJSON framing, and faults on the socket. */
import { request } from "node:http"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveSimNode } from "../../src/sim/httpServer.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import type { SimNode } from "../../src/sim/SimNode.js"

let scope: Scope.CloseableScope
let url = ""
let node: SimNode

beforeAll(async () => {
  scope = await Effect.runPromise(Scope.make())
  ;({ url, node } = await Effect.runPromise(
    Effect.gen(function*() {
      const n = yield* makeSimNode({ name: "h", profile: "gpu-consumer", models: ["llama3.2:3b"], preload: ["llama3.2:3b"], timeScale: 1000 })
      return { node: n, url: (yield* serveSimNode(n)).url }
    }).pipe(Scope.extend(scope))
  ))
})

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** Polls a condition on the node (the server runs in real time); gives up after ~2 s. */
const until = async (cond: () => Promise<boolean>) => {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error("condition not reached")
}

const setFault = (fault: unknown) => fetch(`${url}/__sim/fault`, { method: "POST", body: JSON.stringify(fault) })
const chat = (extra: Record<string, unknown> = {}) =>
  fetch(`${url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 6 }, ...extra }) })

describe("the HTTP sim node's wire", () => {
  it("answers GET and HEAD / with Ollama's text", async () => {
    const get = await fetch(url)
    expect(get.headers.get("content-type")).toBe("text/plain; charset=utf-8")
    expect(await get.text()).toBe("Ollama is running")
    const head = await fetch(url, { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe("")
  })

  it("refuses a foreign Host or Origin with 403 as Ollama does on loopback, and answers a local preflight", async () => {
    const status = (headers: Record<string, string>, method = "GET") =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${url}/api/version`, { method, headers }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on("error", reject)
        req.end()
      })
    expect(await status({ host: "evil.example" })).toBe(403)
    expect(await status({ host: "localhost:11434" })).toBe(200)
    expect(await status({ origin: "https://evil.example" })).toBe(403)
    expect(await status({ origin: "http://localhost:3000", "access-control-request-method": "POST" }, "OPTIONS")).toBe(204)
  })

  it("answers gin's plain-text 404 and 405", async () => {
    const nf = await fetch(`${url}/api/nope`)
    expect([nf.status, await nf.text()]).toEqual([404, "404 page not found"])
    const na = await fetch(`${url}/api/chat`)
    expect([na.status, await na.text()]).toEqual([405, "405 method not allowed"])
  })

  it("answers 400 to bad JSON and to an empty body", async () => {
    const bad = await fetch(`${url}/api/chat`, { method: "POST", body: "xyz" })
    expect([bad.status, await bad.json()]).toEqual([400, { error: "invalid character 'x' looking for beginning of value" }])
    const empty = await fetch(`${url}/api/generate`, { method: "POST" })
    expect([empty.status, await empty.json()]).toEqual([400, { error: "missing request body" }])
  })

  it("answers an option of the wrong type with Ollama's 500, after the model check", async () => {
    const bad = await chat({ options: { num_predict: "six" } })
    expect([bad.status, await bad.json()]).toEqual([500, { error: 'option "num_predict" must be of type integer' }])
    const embed = await fetch(`${url}/api/embed`, { method: "POST", body: JSON.stringify({ model: "llama3.2:3b", input: "x", options: { stop: "\n" } }) })
    expect([embed.status, await embed.json()]).toEqual([500, { error: 'option "stop" must be of type array' }])
    const unknown = await chat({ model: "nope", options: { num_predict: "six" } })
    expect(unknown.status).toBe(404)
  })

  it("streams NDJSON when stream is absent: compact lines, one per token, then the done object", async () => {
    const r = await chat()
    expect(r.headers.get("content-type")).toBe("application/x-ndjson")
    const text = await r.text()
    expect(text.endsWith("\n")).toBe(true)
    const lines = text.trimEnd().split("\n")
    expect(lines).toHaveLength(7)
    expect(lines[0]).toMatch(/^\{"model":"llama3.2:3b","created_at":"[^"]+","message":\{"role":"assistant","content":"[^"]+"\},"done":false\}$/)
    const last = JSON.parse(lines[6]!) as Record<string, unknown>
    expect(Object.keys(last)).toEqual([
      "model", "created_at", "message", "done", "done_reason", "total_duration", "load_duration",
      "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"
    ])
  })

  it("answers /api/copy with an empty 200 and streams /api/create as NDJSON, errors before a byte as JSON", async () => {
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) })
    const copied = await post("/api/copy", { source: "llama3.2:3b", destination: "wire-copy" })
    expect([copied.status, copied.headers.get("content-length"), await copied.text()]).toEqual([200, "0", ""])
    const created = await post("/api/create", { model: "wire-made", from: "wire-copy", system: "Hi." })
    expect([created.status, created.headers.get("content-type")]).toEqual([200, "application/x-ndjson"])
    const text = await created.text()
    expect(text.endsWith('{"status":"writing manifest"}\n{"status":"success"}\n')).toBe(true)
    const refused = await post("/api/create", { model: "wire-x" })
    expect([refused.status, refused.headers.get("content-type"), await refused.json()])
      .toEqual([400, "application/json", { error: "neither 'from' or 'files' was specified" }])
    for (const model of ["wire-copy", "wire-made"]) await fetch(`${url}/api/delete`, { method: "DELETE", body: JSON.stringify({ model }) })
  })

  it("refuse destroys the connection", async () => {
    await setFault({ mode: "refuse" })
    await expect(fetch(`${url}/api/version`)).rejects.toThrow()
    await setFault({ mode: "none" })
    expect((await fetch(`${url}/api/version`)).status).toBe(200)
  })

  it("truncate cuts the body with a reset, not a clean end", async () => {
    await setFault({ mode: "truncate", afterChunks: 2 })
    const r = await chat()
    expect(r.status).toBe(200)
    await expect(r.text()).rejects.toThrow()
    await setFault({ mode: "none" })
  })

  it("hang accepts and answers nothing; a client abort frees the request", async () => {
    await setFault({ mode: "hang" })
    const ctl = new AbortController()
    const aborted = fetch(`${url}/api/tags`, { signal: ctl.signal }).catch((e: unknown) => e)
    await until(async () => (await Effect.runPromise(node.stats)).inFlight === 1)
    ctl.abort()
    expect(await aborted).toBeInstanceOf(Error)
    await until(async () => (await Effect.runPromise(node.stats)).inFlight === 0)
    await setFault({ mode: "none" })
    expect((await fetch(`${url}/api/version`)).status).toBe(200)
  })

  it("a client disconnect interrupts the request inside the node", async () => {
    const ctl = new AbortController()
    const r = await fetch(`${url}/api/chat`, {
      method: "POST",
      signal: ctl.signal,
      body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 100000 } })
    })
    const reader = r.body!.getReader()
    await reader.read()
    ctl.abort()
    await until(async () => (await Effect.runPromise(node.stats)).running === 0)
    expect((await Effect.runPromise(node.stats)).running).toBe(0)
  })
})
