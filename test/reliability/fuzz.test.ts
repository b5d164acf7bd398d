/**
 * HTTP fuzz: fast-check generates methods, paths, headers and bodies against a running gateway. Input alone must
 * never cause a 5xx, the process must keep answering, and a normal request must succeed afterwards.
 */
import fc from "fast-check"
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const MODEL = "llama3.2:3b"
const PATHS = ["/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/show", "/v1/chat/completions",
  "/v1/completions", "/v1/embeddings", "/api/tags", "/api/ps", "/api/version", "/", "/api/sollol/nodes", "/healthz"]

const jsonValue = fc.jsonValue({ maxDepth: 3 })
const body = fc.oneof(
  fc.string({ maxLength: 200 }),
  jsonValue.map((v) => JSON.stringify(v)),
  fc.record({
    model: fc.oneof(fc.constant(MODEL), fc.string({ maxLength: 20 }), jsonValue),
    messages: fc.oneof(jsonValue, fc.array(fc.record({ role: fc.string({ maxLength: 10 }), content: fc.oneof(fc.string(), jsonValue) }), { maxLength: 3 })),
    prompt: fc.oneof(fc.string({ maxLength: 50 }), jsonValue),
    input: fc.oneof(fc.string({ maxLength: 50 }), jsonValue),
    priority: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.string({ maxLength: 5 }), fc.double()),
    stream: fc.oneof(fc.boolean(), jsonValue),
    // num_predict stays small when it is a number, so a valid request finishes quickly
    options: fc.oneof(jsonValue, fc.record({ num_predict: fc.integer({ min: -2, max: 4 }), temperature: jsonValue }))
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v))
)

const input = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
  path: fc.oneof(fc.constantFrom(...PATHS), fc.webPath({ size: "small" }).map((p) => p === "" ? "/" : p)),
  headers: fc.dictionary(
    fc.constantFrom("x-sollol-priority", "content-type", "x-sollol-request-id", "accept", "x-fuzz"),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
    { maxKeys: 3 }
  ),
  body
})

const send = (url: string, i: { method: string; path: string; headers: Record<string, string>; body: string }) =>
  new Promise<number>((resolve, reject) => {
    const target = new URL(url)
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      method: i.method,
      path: i.path.startsWith("/") ? i.path : `/${i.path}`,
      headers: i.headers
    }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(i.method === "GET" || i.method === "HEAD" ? undefined : i.body)
  })

describe("HTTP fuzz", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200 })
  })
  afterAll(() => cluster.close())

  it("no input causes a 5xx, and the gateway keeps serving", async () => {
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        // Membership changes are admin operations, not input: keep the fuzz from removing the cluster's nodes.
        if (i.path.startsWith("/api/sollol/nodes") && i.method !== "GET") return
        const status = await send(cluster.url, i)
        expect(status, `${i.method} ${i.path} ${i.body.slice(0, 120)}`).toBeGreaterThanOrEqual(100)
        expect(status, `${i.method} ${i.path} ${i.body.slice(0, 120)}`).toBeLessThan(500)
      }),
      { numRuns: 400, seed: 424_242 }
    )
    const ok = await fetch(`${cluster.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: false, options: { num_predict: 3 } })
    })
    expect(ok.status).toBe(200)
  }, 60_000)
})
