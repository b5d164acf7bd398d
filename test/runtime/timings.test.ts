/** Timing fields read from the tail of an answer equal those of a full parse, and strings never fool the scan. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseTimings, timingsOfBody } from "../../src/runtime/timings.js"

/** Padded past the size below which the body is simply parsed, so that the tail scan is what is tested. */
const body = (value: unknown) => Buffer.from(JSON.stringify({ padding: "x".repeat(9_000), ...value as object }))

describe("timingsOfBody", () => {
  it("matches parseTimings on any answer shape", () => {
    fc.assert(fc.property(
      fc.record({
        model: fc.string(),
        message: fc.record({ role: fc.constant("assistant"), content: fc.string({ maxLength: 2_000 }) }),
        done: fc.boolean(),
        total_duration: fc.option(fc.nat(), { nil: undefined }),
        load_duration: fc.nat(),
        prompt_eval_count: fc.nat(),
        prompt_eval_duration: fc.nat(),
        eval_count: fc.nat(),
        eval_duration: fc.nat()
      }, { requiredKeys: ["model", "message", "done"] }),
      (answer) => {
        expect(timingsOfBody(body(answer))).toEqual(parseTimings(answer))
        expect(timingsOfBody(Buffer.from(JSON.stringify(answer)))).toEqual(parseTimings(answer))
      }
    ))
  })

  it("is not fooled by timing-like text inside a string", () => {
    const answer = {
      message: { content: ',"total_duration":999,"eval_count":999' },
      done: true,
      total_duration: 10,
      eval_count: 3
    }
    expect(timingsOfBody(body(answer))).toEqual(parseTimings(answer))
    expect(timingsOfBody(body({ response: '"total_duration":5' }))).toBeUndefined()
  })

  it("reads an embedding answer without its vectors", () => {
    const answer = { model: "e", embeddings: [Array.from({ length: 4_000 }, (_, i) => i / 7)], total_duration: 7, prompt_eval_count: 2 }
    expect(timingsOfBody(body(answer))).toEqual(parseTimings(answer))
  })

  it("takes an embedding's time as total − load, since /api/embed reports no prompt_eval_duration", () => {
    const embed = { model: "e", embeddings: [[0.1]], total_duration: 9_000_000, load_duration: 1_000_000, prompt_eval_count: 40 }
    expect(parseTimings(embed)).toMatchObject({ promptEvalCount: 40, promptEvalNs: 8_000_000 })
    expect(timingsOfBody(body(embed))).toEqual(parseTimings(embed))
    // a generation answer keeps its own fields, even when one is 0
    const generated = { done: true, total_duration: 9, load_duration: 1, prompt_eval_count: 4, prompt_eval_duration: 0, eval_count: 2, eval_duration: 5 }
    expect(parseTimings(generated)).toMatchObject({ promptEvalNs: 0 })
  })
})
