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
    // they never waited for a slot nor ran: only the admitted request is in the latency and wait series
    expect(metrics).toContain('sollol_queue_wait_seconds_count{priority="5"} 1')
  })
})

describe("requests refused for want of a key", () => {
  it("are counted, but neither kept in the decision ring nor named by their body's model", async () => {
    const cluster = await startCluster({ timeScale: 200, config: { auth: { mode: "required" } } })
    try {
      const seen: Array<unknown> = []
      const log = await Effect.runPromise(Effect.provide(DecisionLog, cluster.gateway.context))
      await Effect.runPromise(log.listen((d) => void seen.push(d)))
      // a flood of them must not push real decisions out of the ring, nor grow anything by their model names
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${cluster.url}/api/chat`, { method: "POST", body: JSON.stringify({ ...chat, model: `m${i}-${"x".repeat(1_000)}` }) })
        expect(res.status).toBe(401)
      }
      expect(seen).toHaveLength(3)
      expect(seen[0]).toMatchObject({ outcome: "refused", status: 401, model: "", node: null })
      expect(await Effect.runPromise(log.recent(10))).toEqual([])
      const totals = await Effect.runPromise(log.totals)
      expect(totals.all.refused).toBe(3)
      expect(Object.keys(totals.byModel)).toEqual(["unknown"])
    } finally {
      await cluster.close()
    }
  })
})
