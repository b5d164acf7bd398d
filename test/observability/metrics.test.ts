import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

/** Parses Prometheus text into (name, labels) → value. */
const parse = (text: string) => {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    samples.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  const pick = (name: string, where: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
  const sum = (name: string, where: Record<string, string> = {}) => pick(name, where).reduce((a, s) => a + s.value, 0)
  return { samples, pick, sum }
}

const chat = (url: string, model: string, content: string, stream = false) =>
  fetch(`${url}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content }], options: { num_predict: 6 } })
  })

describe("/metrics", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(() => cluster.close())

  it("counts every request by route, model, node and status, with matching histograms and gauges", async () => {
    const perNode = new Map<string, number>()
    const sent = 12
    const streamed = 4
    const replies = await Promise.all(
      Array.from({ length: sent }, (_, i) => chat(cluster.url, "llama3.2:3b", `q${i}`, i < streamed))
    )
    for (const r of replies) {
      expect(r.status).toBe(200)
      await r.arrayBuffer()
      const node = r.headers.get("x-sollol-node")!
      perNode.set(node, (perNode.get(node) ?? 0) + 1)
    }
    const missing = await chat(cluster.url, "no-such-model:1b", "hi")
    expect(missing.status).toBe(404)
    await missing.arrayBuffer()

    const res = await fetch(`${cluster.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/plain")
    const m = parse(await res.text())

    expect(m.sum("sollol_requests_total", { status: "200" })).toBe(sent)
    for (const [node, n] of perNode) {
      expect(m.sum("sollol_requests_total", { route: "chat", model: "llama3.2:3b", node, status: "200" })).toBe(n)
      expect(m.sum("sollol_request_duration_seconds_count", { route: "chat", node })).toBe(n)
    }
    expect(m.sum("sollol_requests_total", { route: "chat", model: "unknown", node: "none", status: "404" })).toBe(1)
    expect(m.sum("sollol_request_duration_seconds_count")).toBe(sent + 1)
    expect(m.sum("sollol_queue_wait_seconds_count", { priority: "5" })).toBe(sent + 1)
    expect(m.sum("sollol_time_to_first_token_seconds_count")).toBeGreaterThanOrEqual(streamed)

    const nodes = cluster.nodes.map((n) => n.spec.name)
    for (const node of nodes) {
      expect(m.sum("sollol_node_health", { node, state: "healthy" })).toBe(1)
      expect(m.sum("sollol_node_health", { node })).toBe(1)
      expect(m.sum("sollol_in_flight", { node })).toBe(0)
      expect(m.sum("sollol_node_slots", { node })).toBeGreaterThan(0)
    }
    expect(m.sum("sollol_queue_depth")).toBe(0)
    for (const node of perNode.keys()) {
      expect(m.sum("sollol_tokens_per_second", { node, model: "llama3.2:3b" })).toBeGreaterThan(0)
      expect(m.sum("sollol_prefill_tokens_per_second", { node, model: "llama3.2:3b" })).toBeGreaterThan(0)
    }
    expect(m.pick("sollol_retries_total")).toEqual([])
    expect(m.pick("sollol_process_cpu_seconds_total").length).toBe(1)
    // No request ids or other unbounded values as labels.
    const labelNames = new Set(m.samples.flatMap((s) => Object.keys(s.labels)))
    for (const name of labelNames) {
      expect(["route", "model", "node", "status", "priority", "state", "to", "le", "quantile", "kind", "type", "space",
        "version", "major", "minor", "patch"]).toContain(name)
    }
  })

  it("counts health transitions when a node stops answering", async () => {
    await fetch(`${cluster.nodes[2]!.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode: "refuse" }) })
    const node = cluster.nodes[2]!.spec.name
    let m = parse(await (await fetch(`${cluster.url}/metrics`)).text())
    for (let i = 0; i < 100 && m.sum("sollol_node_health", { node, state: "excluded" }) !== 1; i++) {
      await new Promise((r) => setTimeout(r, 50))
      m = parse(await (await fetch(`${cluster.url}/metrics`)).text())
    }
    expect(m.sum("sollol_node_health", { node, state: "excluded" })).toBe(1)
    expect(m.sum("sollol_node_health_transitions_total", { node, to: "excluded" })).toBe(1)
    await fetch(`${cluster.nodes[2]!.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode: "none" }) })
  })
})
