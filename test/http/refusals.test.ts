/**
 * A request the gateway refuses before any node is asked (bad JSON or field, a bad priority, a body too large,
 * no key) is still a request: it is in the decision log, the stats, `sollol_requests_total` and the request log.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DecisionLog } from "../../src/runtime/DecisionLog.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const chat = { model: "llama3.2:3b", messages: [{ role: "user", content: "hi" }], stream: false }

describe("requests refused at the edge", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster({ timeScale: 200, config: { limits: { maxBodyBytes: 4096 } } })
  })
  afterAll(() => cluster.close())
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${cluster.url}/api/chat`, { method: "POST", body, headers })

  it("are counted, logged as decisions and kept apart from the cluster's errors", async () => {
    expect((await post("{nope")).status).toBe(400)
    expect((await post(JSON.stringify({ ...chat, priority: 11 }))).status).toBe(400)
    const large = await post(JSON.stringify({ ...chat, pad: "x".repeat(5_000) }))
    expect(large.status).toBe(413)
    const id = large.headers.get("x-sollol-request-id")
    expect((await post(JSON.stringify(chat))).status).toBe(200)

    const stats = (await (await fetch(`${cluster.url}/api/sollol/stats`)).json()) as { requests: Record<string, number> }
    expect(stats.requests).toMatchObject({ ok: 1, error: 0, refused: 3 })
    const { decisions } = (await (await fetch(`${cluster.url}/api/sollol/decisions?limit=4`)).json()) as {
      decisions: Array<{ requestId: string; outcome: string; status: number; model: string; node: string | null; error?: string }>
    }
    expect(decisions.map((d) => [d.outcome, d.status])).toEqual([["ok", 200], ["refused", 413], ["refused", 400], ["refused", 400]])
    expect(decisions[1]).toMatchObject({ requestId: id, node: null, error: "request body too large (limit 4096 bytes)" })
    expect(decisions[2]).toMatchObject({ model: "llama3.2:3b", error: "priority must be an integer between 1 and 10" })

    const metrics = await (await fetch(`${cluster.url}/metrics`)).text()
    expect(metrics).toContain('sollol_requests_total{route="chat",model="unknown",node="none",status="400"} 2')
    expect(metrics).toContain('sollol_requests_total{route="chat",model="unknown",node="none",status="413"} 1')
  })
})

describe("requests refused for want of a key", () => {
  it("are in the decision log with their status and the request's analysis", async () => {
    const cluster = await startCluster({ timeScale: 200, config: { auth: { mode: "required" } } })
    try {
      const res = await fetch(`${cluster.url}/api/chat`, { method: "POST", body: JSON.stringify(chat) })
      expect(res.status).toBe(401)
      const [last] = await Effect.runPromise(Effect.flatMap(DecisionLog, (log) => log.recent(1)).pipe(Effect.provide(cluster.gateway.context)))
      expect(last).toMatchObject({
        requestId: res.headers.get("x-sollol-request-id"),
        outcome: "refused",
        status: 401,
        model: "llama3.2:3b",
        taskType: "generation",
        node: null
      })
    } finally {
      await cluster.close()
    }
  })
})
