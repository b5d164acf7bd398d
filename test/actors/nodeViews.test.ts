import { describe, expect, it } from "vitest"
import { gpuShareOf } from "../../src/actors/nodeViews.js"

const loaded = (name: string, size: number, sizeVram: number) => ({ name, size, sizeVram, expiresAt: "t", contextLength: undefined })

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
