/** Failover through the gateway: dead or failing nodes cost no non-streaming request; broken streams say so. */
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const chat = (url: string, body: Record<string, unknown> = {}) =>
  fetch(`${url}/api/chat`, {
    method: "POST",
    body: JSON.stringify({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "Hello!" }],
      stream: false,
      options: { num_predict: 8 },
      ...body
    })
  })

/** `total` requests, `concurrency` at a time; returns the statuses. */
const load = async (url: string, total: number, concurrency: number, during?: (sent: number) => Promise<void>) => {
  const statuses: Array<number> = []
  let sent = 0
  const worker = async () => {
    while (sent < total) {
      sent++
      await during?.(sent)
      const res = await chat(url)
      await res.arrayBuffer()
      statuses.push(res.status)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return statuses
}

describe("failover", () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    await cluster?.close()
    cluster = undefined
  })

  it("loses no non-streaming request while one node refuses and then another returns 500", async () => {
    cluster = await startCluster({ scenario: "homogeneous3", timeScale: 200 })
    const c = cluster
    const statuses = await load(c.url, 300, 12, async (sent) => {
      if (sent === 60) await fetch(`${c.nodes[0]!.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode: "refuse" }) })
      if (sent === 150) await fetch(`${c.nodes[1]!.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode: "error500" }) })
    })
    expect(statuses).toHaveLength(300)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
  })

  it("ends a stream cut mid-way with an explicit error line", async () => {
    cluster = await startCluster({ scenario: "homogeneous3", timeScale: 200 })
    for (const n of cluster.nodes) await Effect.runPromise(n.node.setFault({ mode: "truncate", afterChunks: 3 }))
    const res = await chat(cluster.url, { stream: true, options: { num_predict: 20 } })
    expect(res.status).toBe(200)
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    const last = lines[lines.length - 1]!
    expect(typeof last.error).toBe("string")
    expect(lines.some((l) => l.done === true)).toBe(false)
  })

  it("answers quickly with 503 and Retry-After when every node is down", async () => {
    cluster = await startCluster({ scenario: "homogeneous3", timeScale: 200 })
    for (const n of cluster.nodes) await Effect.runPromise(n.node.setFault({ mode: "refuse" }))
    // Let the probes exclude every node.
    await waitFor(async () => (await fetch(`${cluster!.url}/healthz`)).status === 503)
    const started = performance.now()
    const res = await chat(cluster.url)
    const elapsed = performance.now() - started
    expect(res.status).toBe(503)
    expect(res.headers.get("retry-after")).not.toBeNull()
    expect(((await res.json()) as { error: string }).error).toMatch(/no routable node/)
    expect(elapsed).toBeLessThan(1_000)
  })
})

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("condition not reached in time")
    await new Promise((r) => setTimeout(r, 50))
  }
}
