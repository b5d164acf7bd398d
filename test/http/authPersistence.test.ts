import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { LearningStore } from "../../src/runtime/LearningStore.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const dir = mkdtempSync(join(tmpdir(), "sollol-restart-"))
const database = join(dir, "sollol.db")

const learned = (cluster: Cluster) =>
  Effect.runPromise(Context.get(cluster.gateway.context, LearningStore).snapshot).then((s) =>
    new Map(s.perf.map((e) => [`${e.nodeId}/${e.model}`, e.success.n]))
  )

const chat = (cluster: Cluster, key: string) =>
  fetch(`${cluster.url}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "Hi" }],
      stream: false,
      options: { num_predict: 4 }
    })
  })

describe("restart on the same SQLite file", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("keeps keys (and so auth) and the learned rates across a restart", async () => {
    const first = await startCluster({ config: { database } })
    let key: string
    let before: Map<string, number>
    try {
      expect(first.gateway.authEnabled).toBe(false)
      key = (await Effect.runPromise(first.gateway.apiKeys.create({ name: "survivor", role: "user" }))).key
      for (let i = 0; i < 6; i++) expect((await chat(first, key)).status).toBe(200)
      before = await learned(first)
      expect(before.size).toBeGreaterThan(0)
    } finally {
      await first.close()
    }

    const second = await startCluster({ config: { database } })
    try {
      expect(second.gateway.authEnabled).toBe(true) // the key from the first run exists
      const after = await learned(second)
      for (const [entry, samples] of before) expect(after.get(entry), entry).toBeGreaterThanOrEqual(samples)
      expect((await chat(second, "")).status).toBe(401)
      expect((await chat(second, key)).status).toBe(200)
      const listed = await Effect.runPromise(second.gateway.apiKeys.list)
      expect(listed.map((k) => k.name)).toEqual(["survivor"])
      expect(listed[0]?.lastUsedAt).toBeTypeOf("number")
    } finally {
      await second.close()
    }
  })
})
