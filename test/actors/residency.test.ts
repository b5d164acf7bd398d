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
    expect(residency.has("llama3.2:3b")).toBe(false)
    residency.begin("llama3.2:latest")
    expect(residency.has("llama3.2:latest")).toBe(true)
    expect(residency.has("llama3.2:3b")).toBe(true)
    expect(residency.has("qwen2.5:7b")).toBe(false)
  })

  it("keeps a model while a request uses it, whatever /api/ps says meanwhile", () => {
    const { residency, at } = setup()
    const end = residency.begin("qwen2.5:7b")
    at(5_000)
    residency.settle(4_000)
    expect(residency.has("qwen2.5:7b")).toBe(true)
    end()
    residency.settle(4_000) // that look was taken before the request ended: it may not show the model yet
    expect(residency.has("qwen2.5:7b")).toBe(true)
    residency.settle(6_000) // taken after: /api/ps is the truth now
    expect(residency.has("qwen2.5:7b")).toBe(false)
  })

  it("ends each request once, however often its release runs", () => {
    const { residency, at } = setup()
    const first = residency.begin("qwen2.5:7b")
    const second = residency.begin("qwen2.5:7b")
    first()
    first()
    at(10)
    residency.settle(100)
    expect(residency.has("qwen2.5:7b")).toBe(true)
    second()
    residency.settle(100)
    expect(residency.has("qwen2.5:7b")).toBe(false)
  })
})
