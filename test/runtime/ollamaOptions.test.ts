import { describe, expect, it } from "vitest"
import { optionsError } from "../../src/domain/ollamaOptions.js"

describe("Ollama's option types (Options.FromMap)", () => {
  it("accepts values of the right type, null, and options it does not know", () => {
    expect(optionsError({ num_predict: 8, num_ctx: 4096.0, temperature: 1, top_p: 0.9, stop: ["\n", "###"] })).toBeUndefined()
    expect(optionsError({ use_mmap: false, numa: true, num_predict: null, made_up: "anything" })).toBeUndefined()
    expect(optionsError({})).toBeUndefined()
  })

  it("refuses a wrong type with Ollama's own words", () => {
    expect(optionsError({ num_predict: "x" })).toBe('option "num_predict" must be of type integer')
    expect(optionsError({ temperature: "hot" })).toBe('option "temperature" must be of type float32')
    expect(optionsError({ use_mmap: 1 })).toBe('option "use_mmap" must be of type boolean')
    expect(optionsError({ stop: "\n" })).toBe('option "stop" must be of type array')
    expect(optionsError({ stop: ["a", 1] })).toBe('option "stop" must be of an array of strings')
  })
})
