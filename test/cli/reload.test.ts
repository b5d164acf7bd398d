/**
 * `serve`'s config reload, in process: the node plan (add, remove, replace, rename, keep what the admin API added),
 * the settings that need a restart, and one reload after another over a real gateway and simulated nodes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Either } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { NodeRegistry } from "../../src/actors/NodeRegistry.js"
import { makeAppConfig } from "../../src/AppConfig.js"
import { NodeId } from "../../src/domain/NodeId.js"
import { loadConfig } from "../../src/cli/loadConfig.js"
import { makeReload, planNodes, restartNeeded, summaryLine } from "../../src/cli/reload.js"
import type { ReloadResult } from "../../src/cli/reload.js"
import { httpUpstreamFactory } from "../../src/runtime/Sollol.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const id = NodeId
const reg = (nodeId: string, url: string, slots = 4) => ({ nodeId: id(nodeId), url, slots })
const want = (nodeId: string, url: string, slots?: number) => ({ nodeId: id(nodeId), url, slots })

describe("planNodes", () => {
  it("adds new nodes, removes the ones the config dropped and keeps the ones the admin API added", () => {
    const plan = planNodes(
      new Set([id("gpu-1"), id("gpu-2")]),
      [reg("gpu-1", "http://a:1"), reg("gpu-2", "http://b:1"), reg("adhoc", "http://z:1")],
      [want("gpu-2", "http://b:1"), want("gpu-3", "http://c:1")],
      4
    )
    expect(plan).toEqual({
      steps: [{ _tag: "Add", node: want("gpu-3", "http://c:1") }, { _tag: "Remove", nodeId: id("gpu-1") }],
      unchanged: [id("gpu-2")],
      kept: [id("adhoc")]
    })
  })

  it("replaces a node whose URL or slots changed, comparing slots with the default when unset", () => {
    const plan = planNodes(
      new Set([id("a"), id("b"), id("c")]),
      [reg("a", "http://a:1", 8), reg("b", "http://b:1"), reg("c", "http://c:1", 8)],
      [want("a", "http://a:1"), want("b", "http://b:2"), want("c", "http://c:1", 8)],
      4
    )
    expect(plan.steps).toEqual([
      { _tag: "Replace", node: want("a", "http://a:1"), change: "slots 8 -> 4" },
      { _tag: "Replace", node: want("b", "http://b:2"), change: "url http://b:1 -> http://b:2" }
    ])
    expect(plan.unchanged).toEqual([id("c")])
  })

  it("removes a renamed node before adding it under its new name, even one the admin API added", () => {
    const plan = planNodes(
      new Set([id("old")]),
      [reg("old", "http://a:1"), reg("adhoc", "http://z:1")],
      [want("new", "http://a:1"), want("named", "http://z:1")],
      4
    )
    expect(plan).toEqual({
      steps: [
        { _tag: "Add", node: want("new", "http://a:1"), after: id("old") },
        { _tag: "Add", node: want("named", "http://z:1"), after: id("adhoc") }
      ],
      unchanged: [],
      kept: []
    })
  })

  it("never sees two config entries with one id: such a config is invalid, at startup and on reload", () => {
    expect(() => makeAppConfig({ nodes: [{ url: "http://a:1/", name: "x" }, { url: "http://b:1", name: "x" }] }))
      .toThrow("nodes.1: node 'x' is configured twice (as nodes.0 too); give each node its own name")
  })
})

describe("restartNeeded", () => {
  it("lists every changed setting but the nodes, by its dotted path", () => {
    const running = makeAppConfig({ port: 8000, nodes: [{ url: "http://a:1" }] })
    const wanted = makeAppConfig({
      port: 9000,
      strategy: "random",
      health: { probeIntervalMs: 1000 },
      limits: { allowedHosts: ["example.com"] },
      nodes: [{ url: "http://b:1" }]
    })
    expect(restartNeeded(running, wanted)).toEqual([
      { path: "port", running: 8000, wanted: 9000 },
      { path: "strategy", running: "sollol", wanted: "random" },
      { path: "health.probeIntervalMs", running: 5000, wanted: 1000 },
      { path: "limits.allowedHosts", running: [], wanted: ["example.com"] }
    ])
  })
})

describe("summaryLine", () => {
  it("says what was added, removed, changed, left alone and kept in one line", () => {
    expect(summaryLine({
      added: [id("gpu-3")],
      removed: [id("gpu-1")],
      changed: [],
      unchanged: 2,
      kept: [],
      failed: []
    })).toBe("config reloaded: +gpu-3, -gpu-1, unchanged 2")
    expect(summaryLine({
      added: [],
      removed: [],
      changed: [{ nodeId: id("gpu-2"), change: "slots 4 -> 8" }],
      unchanged: 0,
      kept: [id("adhoc")],
      failed: [{ nodeId: id("x"), message: "node 'x' already exists" }]
    })).toBe(
      "config reloaded: ~gpu-2 (slots 4 -> 8), unchanged 0; kept adhoc (added through the admin API, not in the config)" +
        "; not added: x (node 'x' already exists)"
    )
  })
})

describe("makeReload over a running gateway", () => {
  const dir = mkdtempSync(join(tmpdir(), "sollol-reload-"))
  const file = join(dir, "sollol.json")
  let cluster: Cluster
  const url = (name: string) => cluster.nodes.find((n) => n.spec.name === name)?.url ?? ""
  /** The config startCluster runs with, as a file, with `nodes` and any other settings replaced. */
  const write = (over: Record<string, unknown>) =>
    writeFileSync(file, JSON.stringify({
      port: 0,
      database: ":memory:",
      logLevel: "none",
      health: { probeIntervalMs: 200, modelsIntervalMs: 1_000, baseCooldownMs: 500 },
      routing: { retryBackoffMs: 1 },
      nodes: cluster.nodes.map((n) => ({ url: n.url, name: n.spec.name })),
      ...over
    }))

  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(async () => {
    await cluster.close()
    rmSync(dir, { recursive: true, force: true })
  })
  afterEach(() => vi.restoreAllMocks())

  it("applies node changes, reports settings that need a restart, and keeps everything on an invalid config", async () => {
    const registry = Context.get(cluster.gateway.context, NodeRegistry)
    const nodes = () =>
      Effect.runPromise(registry.list).then((list) =>
        list.map((v) => ({ id: v.nodeId, url: v.url, slots: v.slots })).sort((a, b) => a.id.localeCompare(b.id)))
    write({})
    const running = Either.getOrThrow(loadConfig({ config: file }, {}))
    const reload = await Effect.runPromise(makeReload({
      command: "serve",
      load: () => loadConfig({ config: file }, {}),
      running,
      registry,
      upstreamFactory: httpUpstreamFactory(running)
    }))
    const out: Array<string> = []
    const err: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line))
    vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line))
    const run = async (): Promise<ReloadResult> => {
      out.length = 0
      err.length = 0
      return Effect.runPromise(reload)
    }

    // fast-gpu's slots change, mid-gpu is renamed, cpu is dropped, the strategy changes
    write({
      strategy: "round-robin",
      nodes: [{ url: url("fast-gpu"), name: "fast-gpu", slots: 8 }, { url: url("mid-gpu"), name: "mid" }]
    })
    expect((await run())._tag).toBe("Applied")
    expect(out).toEqual(["sollol serve: config reloaded: +mid, -mid-gpu, -cpu, ~fast-gpu (slots 4 -> 8), unchanged 0"])
    expect(err).toEqual([
      `sollol serve: config reload: strategy: "sollol" -> "round-robin" needs a restart; still using "sollol"`
    ])
    expect(await nodes()).toEqual([
      { id: "fast-gpu", url: url("fast-gpu"), slots: 8 },
      { id: "mid", url: url("mid-gpu"), slots: 4 }
    ])

    // cpu comes back through the admin API: a reload leaves it alone and says so
    const posted = await fetch(`${cluster.url}/api/sollol/nodes`, {
      method: "POST",
      body: JSON.stringify({ url: url("cpu"), name: "adhoc" })
    })
    expect(posted.status).toBe(201)
    await run()
    expect(out).toEqual([
      "sollol serve: config reloaded: unchanged 2; kept adhoc (added through the admin API, not in the config)"
    ])

    writeFileSync(file, JSON.stringify({ port: 0, nodes: [{ url: "ftp://nope" }] }))
    const before = await nodes()
    expect(await run()).toEqual({ _tag: "Invalid", message: "nodes.0.url: must be an http(s) URL without query, fragment or credentials" })
    expect(err).toEqual([
      "sollol serve: config reload failed, keeping the current config: nodes.0.url: must be an http(s) URL without query, fragment or credentials"
    ])
    expect(out).toEqual([])
    expect(await nodes()).toEqual(before)

    // back to the startup config: cpu is listed again, at adhoc's URL, so adhoc is renamed to it
    write({})
    await run()
    expect(out).toEqual([
      "sollol serve: config reloaded: +mid-gpu, +cpu, -mid, -adhoc, ~fast-gpu (slots 8 -> 4), unchanged 0"
    ])
    expect(err).toEqual([])
    expect((await nodes()).map((n) => n.id)).toEqual(["cpu", "fast-gpu", "mid-gpu"])
  })
})
