/**
 * `/api/ps` through the gateway: one entry per model loaded anywhere, with its latest expiry, sorted as Ollama sorts
 * it (latest expiry first). Expiries carry offsets and fractions of varying length, so they compare as instants.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { json, startFakeCluster } from "./fakeOllama.js"
import type { FakeCluster } from "./fakeOllama.js"

const entry = (name: string, expires_at: string) => ({ name, model: name, size: 1, digest: "d", details: {}, expires_at, size_vram: 1 })

describe("merged /api/ps", () => {
  let cluster: FakeCluster
  beforeAll(async () => {
    cluster = await startFakeCluster({
      a: { "/api/ps": (res) => json(res, 200, { models: [entry("m:latest", "2026-11-28T03:00:00+02:00")] }) },
      b: {
        "/api/ps": (res) =>
          json(res, 200, {
            models: [entry("m:latest", "2026-11-28T02:30:00Z"), entry("t:latest", "2026-11-28T02:30:00.5Z"), entry("forever:latest", "2318-01-01T00:00:00Z")]
          })
      }
    })
  })
  afterAll(() => cluster.close())

  it("keeps each model's latest expiry and lists the latest first", async () => {
    const res = await fetch(`${cluster.url}/api/ps`)
    expect(res.status).toBe(200)
    const { models } = (await res.json()) as { models: Array<{ name: string; expires_at: string }> }
    expect(models.map((m) => [m.name, m.expires_at])).toEqual([
      ["forever:latest", "2318-01-01T00:00:00Z"],
      ["t:latest", "2026-11-28T02:30:00.5Z"],
      ["m:latest", "2026-11-28T02:30:00Z"]
    ])
  })
})
