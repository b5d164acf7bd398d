import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

interface SseEvent {
  readonly event: string
  readonly data: Record<string, unknown>
}

/** Reads SSE events from `url` until `done` says stop (or the bound of events is reached). */
const readEvents = async (url: string, done: (e: SseEvent) => boolean, bound = 2_000) => {
  const controller = new AbortController()
  const res = await fetch(url, { signal: controller.signal })
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const seen: Array<SseEvent> = []
  let buffer = ""
  try {
    while (seen.length < bound) {
      const { value, done: end } = await reader.read()
      if (end) break
      buffer += value
      let cut: number
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null")
        seen.push({ event, data })
        if (done(seen.at(-1)!)) return seen
      }
    }
    return seen
  } finally {
    controller.abort()
  }
}

const chat = (url: string) =>
  fetch(`${url}/api/chat`, {
    method: "POST",
    body: JSON.stringify({ model: "llama3.2:3b", stream: false, messages: [{ role: "user", content: "hi" }] })
  })

describe("event stream", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(() => cluster.close())

  it("publishes per-second summaries and an alert when a node gets excluded, then its clear", async () => {
    await (await chat(cluster.url)).json()
    const first = await readEvents(
      `${cluster.url}/api/sollol/events`,
      (e) => e.event === "summary" && (e.data["all"] as { requests: number }).requests > 0
    )
    const summary = first.at(-1)!.data as { all: { requests: number }; nodes: Record<string, unknown> }
    expect(summary.all.requests).toBe(1)
    expect(Object.keys(summary.nodes).sort()).toEqual(cluster.nodes.map((n) => n.spec.name).sort())

    const target = cluster.nodes[1]!
    const fault = (mode: string) =>
      fetch(`${target.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode }) }).then((r) => r.text())
    const raised = readEvents(`${cluster.url}/api/sollol/events`, (e) =>
      e.event === "alert" && e.data["key"] === `node.excluded:${target.spec.name}` && e.data["active"] === true)
    await fault("refuse")
    const alert = (await raised).at(-1)!
    expect(alert.data).toMatchObject({ kind: "node.excluded", severity: "critical", node: target.spec.name })

    const cleared = readEvents(`${cluster.url}/api/sollol/events`, (e) =>
      e.event === "alert" && e.data["key"] === `node.excluded:${target.spec.name}` && e.data["active"] === false)
    await fault("none")
    expect((await cleared).at(-1)!.data["active"]).toBe(false)
  })
})

describe("_sollol_routing", () => {
  it("is added to non-streaming JSON by default and left out when routing.includeRoutingInfo is false", async () => {
    const on = await startCluster()
    const off = await startCluster({ config: { routing: { includeRoutingInfo: false } } })
    try {
      const withInfo = await (await chat(on.url)).json() as Record<string, unknown>
      expect(withInfo["_sollol_routing"]).toMatchObject({ node: expect.any(String) })
      const res = await chat(off.url)
      const without = await res.json() as Record<string, unknown>
      expect(without["message"]).toBeDefined()
      expect(without).not.toHaveProperty("_sollol_routing")
      expect(res.headers.get("x-sollol-node")).not.toBeNull()
    } finally {
      await Promise.all([on.close(), off.close()])
    }
  })
})
