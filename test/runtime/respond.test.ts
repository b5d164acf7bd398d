/** The `_sollol_routing` member is spliced into a JSON object answer, and only into one. */
import { describe, expect, it } from "vitest"
import { withRoutingInfo } from "../../src/runtime/respond.js"

const routing = { node: "a", score: 1.5, reasoning: "line\u2028break" }
const spliced = (text: string) => Buffer.from(withRoutingInfo(Buffer.from(text), routing)).toString("utf8")

describe("withRoutingInfo", () => {
  it("adds the member to an object and keeps every other member", () => {
    const out = JSON.parse(spliced('{"model":"m","message":{"content":"}"},"done":true}'))
    expect(out).toEqual({ model: "m", message: { content: "}" }, done: true, _sollol_routing: routing })
  })

  it("handles an empty object and trailing whitespace", () => {
    expect(JSON.parse(spliced("{}"))).toEqual({ _sollol_routing: routing })
    expect(JSON.parse(spliced('{ "a": 1 }\n'))).toEqual({ a: 1, _sollol_routing: routing })
    expect(JSON.parse(spliced("{ \n }"))).toEqual({ _sollol_routing: routing })
  })

  it("escapes line separators as Ollama does, so the answer stays one line", () => {
    expect(spliced('{"a":1}')).toContain("line\\u2028break")
  })

  it("leaves anything that is not a JSON object alone", () => {
    for (const text of ["[1,2]", "", "not json", '{"truncated":'] as const) expect(spliced(text)).toBe(text)
  })
})
