import { describe, expect, it } from "vitest"
import { makeResidency } from "../../src/actors/residency.js"

const digests: Record<string, string> = { "llama3.2:latest": "d1", "llama3.2:3b": "d1", "qwen2.5:7b": "d2" }

const setup = () => {
  let now = 0
  const residency = makeResidency((model) => digests[model] ?? model, () => now)
  return { residency, at: (ms: number) => void (now = ms) }
}

describe("residency (models the gateway's own requests put on a node)", () => {
  it("counts a model from the moment a request holds a slot, for every tag of its file", () => {
    const { residency } = setup()
    expect(residency.of("llama3.2:3b")).toBeUndefined()
    residency.begin("llama3.2:latest")
    expect(residency.of("llama3.2:latest")).toBe("resident")
    expect(residency.of("llama3.2:3b")).toBe("resident")
    expect(residency.of("qwen2.5:7b")).toBeUndefined()
  })

  it("keeps a model while a request uses it, whatever /api/ps says meanwhile", () => {
    const { residency, at } = setup()
    const end = residency.begin("qwen2.5:7b")
    at(5_000)
    residency.settle(4_000)
    expect(residency.of("qwen2.5:7b")).toBe("resident")
    end()
    residency.settle(4_000) // that look was taken before the request ended: it may not show the model yet
    expect(residency.of("qwen2.5:7b")).toBe("resident")
    residency.settle(6_000) // taken after: /api/ps is the truth now
    expect(residency.of("qwen2.5:7b")).toBeUndefined()
  })

  it("knows a model is gone once idle after the latest request asked for keep_alive 0", () => {
    const { residency, at } = setup()
    const keep = residency.begin("qwen2.5:7b")
    const unload = residency.begin("qwen2.5:7b", true)
    unload()
    expect(residency.of("qwen2.5:7b")).toBe("resident") // another request still runs on it
    keep()
    expect(residency.of("qwen2.5:7b")).toBe("unloaded") // the latest keep_alive (0) applies when it goes idle
    const later = residency.begin("qwen2.5:7b", true)
    residency.begin("qwen2.5:7b")() // began after: its keep_alive replaces the 0
    later()
    expect(residency.of("qwen2.5:7b")).toBe("resident")
    residency.begin("qwen2.5:7b", true)()
    expect(residency.of("llama3.2:3b")).toBeUndefined()
    expect(residency.of("qwen2.5:7b")).toBe("unloaded")
    at(10)
    residency.begin("qwen2.5:7b")
    expect(residency.of("qwen2.5:7b")).toBe("resident") // asked for again: it loads again
  })

  it("ends each request once, however often its release runs", () => {
    const { residency, at } = setup()
    const first = residency.begin("qwen2.5:7b")
    const second = residency.begin("qwen2.5:7b")
    first()
    first()
    at(10)
    residency.settle(100)
    expect(residency.of("qwen2.5:7b")).toBe("resident")
    second()
    residency.settle(100)
    expect(residency.of("qwen2.5:7b")).toBeUndefined()
  })
})
