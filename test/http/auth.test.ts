import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CreateKeyInput } from "../../src/runtime/ApiKeys.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"
import { manualClock } from "../support/manualClock.js"


const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: "llama3.2:3b",
    messages: [{ role: "user", content: "Hi" }],
    stream: false,
    options: { num_predict: 4 },
    ...extra
  })

describe("gateway auth (auth.mode auto, keys present)", () => {
  let cluster: Cluster
  const time = { ms: 1_000_000 }
  const clock = manualClock(time)
  const keys: Record<string, string> = {}
  const create = (input: CreateKeyInput) =>
    Effect.runPromise(Effect.withClock(cluster.gateway.apiKeys.create(input), clock)).then((r) => r.key)

  beforeAll(async () => {
    cluster = await startCluster({ gateway: { authClock: clock } })
    expect(cluster.gateway.authEnabled).toBe(false) // auto, and no key yet
    keys.admin = await create({ name: "ops", role: "admin" })
    keys.user = await create({ name: "app", role: "user", maxPriority: 3 })
    keys.limited = await create({ name: "tight", role: "user", rpm: 2 })
    keys.embedOnly = await create({ name: "indexer", role: "batch" })
    keys.onlyQwen = await create({ name: "qwen-only", role: "user", models: ["qwen2.5:7b"] })
    keys.viewer = await create({ name: "viewer", role: "readonly" })
    keys.shortLived = await create({ name: "temp", role: "user", expiresInMs: 600_000 })
    keys.revoked = await create({ name: "gone", role: "user" })
    await Effect.runPromise(cluster.gateway.apiKeys.revoke("gone"))
  })
  afterAll(() => cluster.close())

  const chat = (key: string | undefined, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    fetch(`${cluster.url}/api/chat`, {
      method: "POST",
      body: chatBody(extra),
      headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers }
    })
  const get = (path: string, key?: string) =>
    fetch(`${cluster.url}${path}`, { headers: key === undefined ? {} : { "x-api-key": key } })

  it("turns auth on as soon as a key exists: no key is 401", async () => {
    const res = await chat(undefined, {}, { "x-sollol-request-id": "refused-1" })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: "missing API key" })
    expect(res.headers.get("x-sollol-request-id")).toBe("refused-1")
    expect(res.headers.get("x-sollol-attempts")).toBe("0")
    expect((await chat("sk-sollol-not-a-real-key")).status).toBe(401)
    expect((await chat(keys.user!)).status).toBe(200)
  })

  it("accepts the key as X-API-Key too, and answers OpenAI routes in OpenAI's error shape", async () => {
    const headers = { "x-api-key": keys.user! }
    const res = await fetch(`${cluster.url}/api/chat`, { method: "POST", body: chatBody(), headers })
    expect(res.status).toBe(200)
    const openai = await fetch(`${cluster.url}/v1/chat/completions`, { method: "POST", body: chatBody() })
    expect(openai.status).toBe(401)
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe("authentication_error")
  })

  it("refuses a missing permission with 403", async () => {
    const res = await chat(keys.embedOnly!)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toContain("lacks the 'chat' permission")
    const embed = await fetch(`${cluster.url}/api/embed`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.embedOnly}` },
      body: JSON.stringify({ model: "nomic-embed-text", input: "hello" })
    })
    expect(embed.status).toBe(200)
  })

  it("refuses a model outside the key's allow-list with 403", async () => {
    const res = await chat(keys.onlyQwen!)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toContain("may not use model 'llama3.2:3b'")
    expect((await chat(keys.onlyQwen!, { model: "qwen2.5:7b" })).status).toBe(200)
  })

  it("clamps a priority above the key's maximum to the maximum", async () => {
    const res = await chat(keys.user!, {}, { "x-sollol-priority": "9" })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { _sollol_routing: { priority: number } }
    expect(body._sollol_routing.priority).toBe(3)
    const low = (await (await chat(keys.user!, { priority: 2 })).json()) as { _sollol_routing: { priority: number } }
    expect(low._sollol_routing.priority).toBe(2)
  })

  it("answers over the rate with 429 and Retry-After, and admits again once the minute has passed", async () => {
    expect((await chat(keys.limited!)).status).toBe(200)
    time.ms += 30_000
    expect((await chat(keys.limited!)).status).toBe(200)
    const over = await chat(keys.limited!)
    expect(over.status).toBe(429)
    expect(over.headers.get("retry-after")).toBe("30")
    expect(((await over.json()) as { error: string }).error).toContain("2 requests per minute")
    time.ms += 30_000 // the first request left the window
    expect((await chat(keys.limited!)).status).toBe(200)
    expect((await chat(keys.limited!)).status).toBe(429)
  })

  it("refuses a revoked key and an expired key with 401", async () => {
    const revoked = await chat(keys.revoked!)
    expect(revoked.status).toBe(401)
    expect(((await revoked.json()) as { error: string }).error).toBe("API key 'gone' is revoked")
    expect((await chat(keys.shortLived!)).status).toBe(200)
    time.ms += 600_000
    const expired = await chat(keys.shortLived!)
    expect(expired.status).toBe(401)
    expect(((await expired.json()) as { error: string }).error).toBe("API key 'temp' has expired")
  })

  it("checks every other route's permission and leaves health, version and the root open", async () => {
    for (const path of ["/healthz", "/readyz", "/", "/api/version"]) expect((await get(path)).status, path).toBe(200)
    for (const path of ["/api/tags", "/api/ps", "/v1/models", "/v1/models/llama3.2:3b"]) {
      expect((await get(path)).status, path).toBe(401)
      expect((await get(path, keys.user)).status, path).toBe(200)
    }
    for (const path of ["/api/sollol/stats", "/api/sollol/decisions", "/api/sollol/nodes"]) {
      expect((await get(path)).status, path).toBe(401)
      expect((await get(path, keys.user)).status, path).toBe(403)
      expect((await get(path, keys.viewer)).status, path).toBe(200)
    }
    const show = await fetch(`${cluster.url}/api/show`, {
      method: "POST",
      headers: { "x-api-key": keys.viewer! },
      body: JSON.stringify({ model: "llama3.2:3b" })
    })
    expect(show.status).toBe(200)
  })

  it("needs the admin permission for fan-out admin and node membership", async () => {
    const pull = (key: string) =>
      fetch(`${cluster.url}/api/pull`, {
        method: "POST",
        headers: { "x-api-key": key },
        body: JSON.stringify({ model: "x", stream: false })
      })
    const refused = await pull(keys.user!)
    expect(refused.status).toBe(403)
    expect(refused.headers.get("x-sollol-request-id")).not.toBeNull()
    expect(refused.headers.get("x-sollol-attempts")).toBe("0")
    const drain = (key: string) =>
      fetch(`${cluster.url}/api/sollol/nodes`, {
        method: "POST",
        headers: { "x-api-key": key },
        body: JSON.stringify({ node: "nope", action: "drain" })
      })
    expect((await drain(keys.viewer!)).status).toBe(403)
    expect((await drain(keys.admin!)).status).toBe(404) // allowed through; the node does not exist
  })

  it("administers keys over HTTP with the admin permission; the raw key only in the creation response", async () => {
    const admin = { "x-api-key": keys.admin!, "content-type": "application/json" }
    const path = `${cluster.url}/api/sollol/admin/keys`
    expect((await fetch(path, { headers: { "x-api-key": keys.viewer! } })).status).toBe(403)
    const created = await fetch(path, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({
        name: "ci",
        role: "user",
        rpm: 10,
        models: "llama3.2:3b,qwen2.5:7b",
        max_priority: 4,
        expires: "30d"
      })
    })
    expect(created.status).toBe(201)
    type Created = { key: string; record: { id: string; prefix: string; models: Array<string> } }
    const { key, record } = (await created.json()) as Created
    expect(key.startsWith("sk-sollol-")).toBe(true)
    expect(record.models).toEqual(["llama3.2:3b", "qwen2.5:7b"])
    expect((await chat(key)).status).toBe(200)
    const listed = await (await fetch(path, { headers: admin })).text()
    expect(listed).toContain(record.prefix)
    expect(listed).not.toContain(key)
    const bad = await fetch(path, { method: "POST", headers: admin, body: JSON.stringify({ name: "x", role: "root" }) })
    expect(bad.status).toBe(400)
    const revoked = await fetch(`${path}/${record.id}`, { method: "DELETE", headers: admin })
    expect(revoked.status).toBe(200)
    expect((await chat(key)).status).toBe(401)
    expect((await fetch(`${path}/nope`, { method: "DELETE", headers: admin })).status).toBe(404)
  })

  it("splits a large embed across the cluster only for a key with the batch permission", async () => {
    const embed = (key: string) =>
      fetch(`${cluster.url}/api/embed`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: "nomic-embed-text", input: Array.from({ length: 100 }, (_, i) => `doc ${i}`), sollol_batch_size: 10 })
      })
    const batched = await embed(keys.embedOnly!)
    expect(batched.status).toBe(200)
    expect(Number(batched.headers.get("x-sollol-attempts"))).toBeGreaterThanOrEqual(10) // ten chunks
    expect(((await batched.json()) as { embeddings: Array<unknown> }).embeddings).toHaveLength(100)
    const whole = await embed(keys.user!)
    expect(whole.status).toBe(200)
    expect(whole.headers.get("x-sollol-attempts")).toBe("1") // one request to one node
    expect(((await whole.json()) as { embeddings: Array<unknown> }).embeddings).toHaveLength(100)
  })
})
