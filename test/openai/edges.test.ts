/**
 * The OpenAI surface's edges: statuses and headers a client or a browser relies on when something is off (a bad
 * URL, a wrong method, a busy or unreachable cluster, an empty conversation, a preflight from openai-node).
 */
import { Effect } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UpstreamError } from "../../src/domain/errors.js"
import { NodeId } from "../../src/domain/NodeId.js"
import { errorResponse } from "../../src/http/errorResponse.js"
import type { Fault } from "../../src/sim/faults.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const model = "llama3.2:3b"

describe("OpenAI routes at their edges", () => {
  let cluster: Cluster
  let client: OpenAI
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200 })
    client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: "unused", maxRetries: 0 })
  })
  afterAll(() => cluster.close())

  const faultAll = (fault: Fault) => Effect.runPromise(Effect.forEach(cluster.nodes, ({ node }) => node.setFault(fault)))

  it("answers a model name with a bad percent escape with 400 at once", async () => {
    for (const bad of ["%E0%A4%A", "%zz", "bad%"]) {
      const res = await fetch(`${cluster.url}/v1/models/${bad}`, { signal: AbortSignal.timeout(5_000) })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { message: "invalid URL escape in the model name", type: "invalid_request_error" } })
    }
    // and a simulated node answers as Go's net/http does
    const sim = await fetch(`${cluster.nodes[0]!.url}/v1/models/%zz`, { signal: AbortSignal.timeout(5_000) })
    expect(sim.status).toBe(400)
  })

  it("answers another method on /v1/models/{id} with 405 and Allow: GET", async () => {
    for (const method of ["DELETE", "POST"]) {
      const res = await fetch(`${cluster.url}/v1/models/${model}`, { method })
      expect(res.status).toBe(405)
      expect(res.headers.get("allow")).toBe("GET")
      expect((await res.json() as { error: { type: string } }).error.type).toBe("invalid_request_error")
    }
  })

  it("allows every x-stainless-* header openai-node sends in a browser preflight", async () => {
    const asked = "content-type, x-stainless-helper-method, x-stainless-poll-helper, x-stainless-async"
    const res = await fetch(`${cluster.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST", "access-control-request-headers": asked }
    })
    expect(res.status).toBe(204)
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/,\s*/)
    for (const header of asked.split(", ")) expect(allowed).toContain(header)
  })

  it("words an empty or missing conversation as Ollama does", async () => {
    for (const body of [{ model, messages: [] }, { model }, { model, messages: null }]) {
      const res = await fetch(`${cluster.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(body) })
      expect(res.status).toBe(400)
      expect((await res.json() as { error: { message: string } }).error.message).toBe("[] is too short - 'messages'")
    }
  })

  it("relays the nodes' 'server busy' with Retry-After, so the SDK's retries back off", async () => {
    await faultAll({ mode: "busy" })
    try {
      const res = await fetch(`${cluster.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model, messages: [{ role: "user", content: "x" }], max_tokens: 3 })
      })
      expect(res.status).toBe(503)
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      await expect(client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], max_tokens: 3 }))
        .rejects.toMatchObject({ status: 503 })
    } finally {
      await faultAll({ mode: "none" })
    }
  })

  it("answers a model no node has with 404 while one node is down, as routed requests do", async () => {
    await Effect.runPromise(cluster.node("cpu").setFault({ mode: "refuse" }))
    try {
      const res = await fetch(`${cluster.url}/v1/models/nope:1b`)
      expect(res.status).toBe(404)
      expect((await fetch(`${cluster.url}/v1/models/${model}`)).status).toBe(200)
    } finally {
      await Effect.runPromise(cluster.node("cpu").setFault({ mode: "none" }))
    }
  })

  it("sends Retry-After with a node's 503 whichever attempt relays it", () => {
    for (const status of [503, 429]) {
      const busy = new UpstreamError({ nodeId: NodeId("a"), reason: "StatusCode", status, detail: "server busy" })
      expect(errorResponse(busy, "openai").headers["retry-after"]).toBe("1")
    }
  })

  it("says the cluster is down, not that the model is missing, when no node answers", async () => {
    await faultAll({ mode: "refuse" })
    try {
      const retrieve = await fetch(`${cluster.url}/v1/models/${model}`)
      expect(retrieve.status).toBe(503)
      expect(retrieve.headers.get("retry-after")).toBe("5")
      expect(await retrieve.json()).toMatchObject({ error: { message: expect.stringMatching(/^no node answered/) } })
      await expect(client.models.list()).rejects.toMatchObject({ status: 503 })
      const tags = await fetch(`${cluster.url}/api/tags`)
      expect(tags.status).toBe(503)
      expect(await tags.json()).toEqual({ error: "no node answered: every Ollama node is unreachable" })
    } finally {
      await faultAll({ mode: "none" })
    }
    // once the nodes are back, the model is found again
    expect((await client.models.retrieve(model)).id).toBe(model)
  })
})
