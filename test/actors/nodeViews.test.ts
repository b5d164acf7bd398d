import { describe, expect, it } from "vitest"
import { modelFiles } from "../../src/actors/nodeEntry.js"
import type { NodeFacts } from "../../src/actors/nodeEntry.js"
import { gpuShareOf, loadedAs } from "../../src/actors/nodeViews.js"

const loaded = (name: string, size: number, sizeVram: number) =>
  ({ name, size, sizeVram, expiresAt: "t", contextLength: undefined })

describe("gpuShareOf (size_vram / size from /api/ps)", () => {
  it("reads the requested model's own entry when it is loaded", () => {
    expect(gpuShareOf([loaded("a:latest", 100, 100), loaded("b:latest", 100, 0)], "b:latest")).toBe(0)
    expect(gpuShareOf([loaded("a:latest", 100, 40)], "a:latest")).toBe(0.4)
  })

  it("falls back to every loaded model, and knows nothing without sizes", () => {
    expect(gpuShareOf([loaded("a:latest", 100, 100), loaded("b:latest", 300, 0)], "c:latest")).toBe(0.25)
    expect(gpuShareOf([], "a:latest")).toBeUndefined()
    expect(gpuShareOf([loaded("a:latest", 0, 5)], "a:latest")).toBeUndefined()
  })
})

describe("loadedAs (which runner /api/ps lists for a model)", () => {
  const models = [
    { name: "llama3.2:latest", digest: "d1", size: 1 },
    { name: "llama3.2:3b", digest: "d1", size: 1 },
    { name: "qwen2.5:7b", digest: "d2", size: 1 }
  ]
  const facts = (loadedModels: NodeFacts["loaded"]): NodeFacts => ({
    models,
    files: modelFiles(models),
    loaded: loadedModels,
    lastProbeAt: undefined,
    lastError: undefined,
    lastFailureAt: undefined
  })

  it("finds the model's own entry, or the runner of another tag of the same file", () => {
    const running = loaded("llama3.2:3b", 100, 100)
    expect(loadedAs(facts([running]), "llama3.2:3b")).toBe(running)
    expect(loadedAs(facts([running]), "llama3.2:latest")).toBe(running)
    expect(loadedAs(facts([running]), "qwen2.5:7b")).toBeUndefined()
  })

  it("groups tags by digest, leaving out tags alone in their file and tags with no digest", () => {
    const files = modelFiles([...models, { name: "a:1", digest: "", size: 1 }, { name: "b:1", digest: "", size: 1 }])
    const llama = { digest: "d1", tags: ["llama3.2:latest", "llama3.2:3b"] }
    expect([...files]).toEqual([["llama3.2:latest", llama], ["llama3.2:3b", llama]])
  })
})
