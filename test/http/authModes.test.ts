import type { IncomingMessage } from "node:http"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { authWarning } from "../../src/cli/serve.js"
import { kindPermission, routePermission, tokenOf } from "../../src/http/auth.js"
import { forwardRequestHeaders } from "../../src/runtime/headers.js"
import { startCluster } from "../support/cluster.js"

const chat = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/api/chat`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "Hi" }],
      stream: false,
      options: { num_predict: 4 }
    })
  })

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage

describe("auth modes", () => {
  it("off: never checks, even with keys", async () => {
    const cluster = await startCluster({ config: { auth: { mode: "off" } } })
    try {
      await Effect.runPromise(cluster.gateway.apiKeys.create({ name: "unused", role: "readonly" }))
      expect(cluster.gateway.authEnabled).toBe(false)
      expect((await chat(cluster.url)).status).toBe(200)
      expect((await fetch(`${cluster.url}/api/sollol/stats`)).status).toBe(200)
    } finally {
      await cluster.close()
    }
  })

  it("required: checks from the start, with no key at all; health stays open", async () => {
    const cluster = await startCluster({ config: { auth: { mode: "required" } } })
    try {
      expect(cluster.gateway.authEnabled).toBe(true)
      expect((await chat(cluster.url)).status).toBe(401)
      expect((await fetch(`${cluster.url}/healthz`)).status).toBe(200)
      const create = await fetch(`${cluster.url}/api/sollol/admin/keys`, {
        method: "POST",
        body: JSON.stringify({ name: "first", role: "admin" })
      })
      expect(create.status).toBe(401)
    } finally {
      await cluster.close()
    }
  })

  it("auto: open with no key; the first key (created over HTTP) turns auth on for the next request", async () => {
    const cluster = await startCluster()
    try {
      expect(cluster.gateway.authEnabled).toBe(false)
      expect((await chat(cluster.url)).status).toBe(200)
      const create = await fetch(`${cluster.url}/api/sollol/admin/keys`, {
        method: "POST",
        body: JSON.stringify({ name: "first", role: "admin" })
      })
      expect(create.status).toBe(201)
      const { key } = (await create.json()) as { key: string }
      expect((await chat(cluster.url)).status).toBe(401)
      expect((await chat(cluster.url, { authorization: `Bearer ${key}` })).status).toBe(200)
      await Effect.runPromise(cluster.gateway.apiKeys.revoke("first"))
      expect((await chat(cluster.url)).status).toBe(401) // revoking every key does not switch auth off
    } finally {
      await cluster.close()
    }
  })
})

describe("auth rules", () => {
  it("maps each route to its permission and leaves health, version and the root open", () => {
    const table: ReadonlyArray<readonly [string, string, string | undefined]> = [
      ["GET", "/api/tags", "models"],
      ["HEAD", "/api/tags", "models"],
      ["GET", "/api/ps", "models"],
      ["GET", "/v1/models", "models"],
      ["GET", "/v1/models/llama3.2", "models"],
      ["GET", "/api/sollol/stats", "stats"],
      ["GET", "/api/sollol/decisions", "stats"],
      ["GET", "/api/sollol/decisions/abc", "stats"],
      ["GET", "/api/sollol/events", "stats"],
      ["GET", "/metrics", "stats"],
      ["GET", "/dashboard", "stats"],
      ["GET", "/api/sollol/nodes", "stats"],
      ["POST", "/api/sollol/nodes", "admin"],
      ["DELETE", "/api/sollol/nodes", "admin"],
      ["POST", "/api/pull", "admin"],
      ["POST", "/api/create", "admin"],
      ["POST", "/api/copy", "admin"],
      ["DELETE", "/api/delete", "admin"],
      ["GET", "/api/sollol/admin/keys", "admin"],
      ["DELETE", "/api/sollol/admin/keys/x", "admin"],
      ["GET", "/healthz", undefined],
      ["GET", "/readyz", undefined],
      ["GET", "/", undefined],
      ["GET", "/api/version", undefined],
      ["POST", "/api/chat", undefined],
      ["POST", "/v1/embeddings", undefined],
      ["GET", "/api/sollol/some-later-route", "admin"]
    ]
    for (const [method, path, permission] of table) {
      expect(routePermission(method, path), `${method} ${path}`).toBe(permission)
    }
    expect(kindPermission("openai-chat")).toBe("chat")
    expect(kindPermission("openai-completions")).toBe("generate")
    expect(kindPermission("embeddings")).toBe("embed")
    expect(kindPermission("openai-embeddings")).toBe("embed")
    expect(kindPermission("show")).toBe("models")
  })

  it("reads the key from a Bearer authorization header first, else from X-API-Key", () => {
    expect(tokenOf(req({ authorization: "Bearer sk-sollol-a" }))).toBe("sk-sollol-a")
    expect(tokenOf(req({ authorization: "bearer  sk-sollol-a " }))).toBe("sk-sollol-a")
    expect(tokenOf(req({ authorization: "Basic abc", "x-api-key": "sk-sollol-b" }))).toBe("sk-sollol-b")
    expect(tokenOf(req({ "x-api-key": "sk-sollol-c" }))).toBe("sk-sollol-c")
    expect(tokenOf(req({}))).toBeUndefined()
  })

  it("never forwards the key to a node", () => {
    const headers = { authorization: "Bearer sk-sollol-a", "x-api-key": "sk-sollol-b", "user-agent": "t" }
    const out = forwardRequestHeaders(headers)
    expect(out).toEqual({ "user-agent": "t", "content-type": "application/json" })
  })

  it("warns loudly only for a non-loopback bind without auth", () => {
    expect(authWarning("0.0.0.0", false)).toContain("authentication OFF")
    expect(authWarning("10.1.2.3", false)).toContain("10.1.2.3")
    expect(authWarning("0.0.0.0", true)).toBeUndefined()
    for (const host of ["127.0.0.1", "localhost", "::1"]) expect(authWarning(host, false)).toBeUndefined()
  })
})
