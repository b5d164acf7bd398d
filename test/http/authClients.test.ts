import { Effect } from "effect"
import { Ollama } from "ollama"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

describe("real clients and key hygiene with auth required", () => {
  let cluster: Cluster
  let key: string
  let admin: string
  beforeAll(async () => {
    cluster = await startCluster({ config: { auth: { mode: "required" }, logLevel: "debug" } })
    expect(cluster.gateway.authEnabled).toBe(true)
    key = (await Effect.runPromise(cluster.gateway.apiKeys.create({ name: "client", role: "user", rpm: 3 }))).key
    admin = (await Effect.runPromise(cluster.gateway.apiKeys.create({ name: "ops", role: "admin" }))).key
  })
  afterAll(() => cluster.close())

  it("works with the ollama client given the key as a Bearer header, and refuses it without", async () => {
    const ollama = new Ollama({ host: cluster.url, headers: { Authorization: `Bearer ${key}` } })
    const messages = [{ role: "user", content: "Hi" }]
    const res = await ollama.chat({ model: "llama3.2:3b", messages, options: { num_predict: 4 } })
    expect(res.done).toBe(true)
    expect((await ollama.list()).models.length).toBeGreaterThan(0)
    const anonymous = new Ollama({ host: cluster.url })
    await expect(anonymous.chat({ model: "llama3.2:3b", messages })).rejects.toMatchObject({ status_code: 401 })
  })

  it("works with the openai client given the key as apiKey; a wrong key is an AuthenticationError", async () => {
    const openai = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: key, maxRetries: 0 })
    const completion = await openai.chat.completions.create({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4
    })
    expect(completion.choices.length).toBe(1)
    const wrong = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: "sk-sollol-wrong", maxRetries: 0 })
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it("never shows the raw key in logs, metrics, decisions or error bodies after traffic", async () => {
    const created = cluster.gateway.apiKeys.create({ name: "leak-check", role: "user", rpm: 3 })
    const key = (await Effect.runPromise(created)).key
    const captured: Array<string> = []
    const text = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")
    const spies = [
      vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => (captured.push(String(chunk)), true)),
      vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => (captured.push(String(chunk)), true)),
      ...(["log", "info", "warn", "error", "debug"] as const).map((m) =>
        vi.spyOn(console, m).mockImplementation((...args: Array<unknown>) => void captured.push(text(args)))
      )
    ]
    const bodies: Array<string> = []
    try {
      const send = async (path: string, body: unknown, headers: Record<string, string>) => {
        const res = await fetch(`${cluster.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) })
        bodies.push(await res.text(), JSON.stringify([...res.headers]))
        return res.status
      }
      const chat = {
        model: "llama3.2:3b",
        messages: [{ role: "user", content: "Hi" }],
        stream: false,
        options: { num_predict: 4 }
      }
      const statuses = [
        await send("/api/chat", chat, { authorization: `Bearer ${key}` }),
        await send("/api/chat", { ...chat, stream: true }, { "x-api-key": key }),
        await send("/api/chat", { ...chat, model: "no-such-model" }, { authorization: `Bearer ${key}` }),
        await send("/api/chat", chat, { authorization: `Bearer ${key}` }), // over 3 per minute
        await send("/api/pull", { model: "x" }, { authorization: `Bearer ${key}` }), // not an admin
        await send("/api/chat", chat, { authorization: `Bearer ${key}x` }) // a near miss
      ]
      expect(statuses).toEqual([200, 200, 404, 429, 403, 401])
      const scrape = async (path: string) => {
        const res = await fetch(`${cluster.url}${path}`, { headers: { "x-api-key": admin } })
        expect(res.status, path).toBe(200)
        return res.text()
      }
      const metrics = await scrape("/metrics")
      expect(metrics).toContain("sollol_")
      const decisions = await scrape("/api/sollol/decisions")
      expect(JSON.parse(decisions).decisions.length).toBeGreaterThan(0)
      const keys = await scrape("/api/sollol/admin/keys")
      const haystack = [...captured, ...bodies, metrics, decisions, keys].join("\n")
      const secret = key.slice("sk-sollol-".length)
      expect(haystack.split(key).length - 1).toBe(0)
      expect(haystack.split(secret.slice(4)).length - 1).toBe(0) // the part after the shown prefix
      expect(haystack.split(admin).length - 1).toBe(0)
      expect(keys).toContain(key.slice(0, 14)) // the prefix is how keys are named
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
  })
})
