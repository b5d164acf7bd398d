/**
 * The `_sollol_routing` member is spliced into a JSON object answer, and only into one; a stream's last line is
 * read from its tail however the stream was cut into chunks.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeTailTracker, MAX_TAIL, unfinishedStream, withRoutingInfo } from "../../src/runtime/respond.js"

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

/** The reference: decode everything, take the last non-empty line, strip an SSE `data: ` prefix, parse. */
const referenceLastLine = (text: string): string | undefined =>
  text.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1)

const referenceLastJson = (text: string): unknown => {
  const last = referenceLastLine(text)
  if (last === undefined) return undefined
  try {
    return JSON.parse(last.startsWith("data: ") ? last.slice(6) : last)
  } catch {
    return undefined
  }
}

/** `bytes` cut at the given offsets (any byte, inside a UTF-8 character too). */
const cut = (bytes: Buffer, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  return out
}

describe("makeTailTracker", () => {
  const line = fc.oneof(
    fc.record({ content: fc.string({ unit: "grapheme", maxLength: 40 }), done: fc.boolean(), eval_count: fc.nat() })
      .map((o) => JSON.stringify(o)),
    fc.constantFrom("", "  ", "\r", "not json", "data: [DONE]", '{"truncated":')
  )

  it("finds the same last line as decoding the whole body, however the body is cut", () => {
    fc.assert(fc.property(
      fc.array(line, { maxLength: 12 }),
      fc.constantFrom("ndjson", "sse"),
      fc.array(fc.nat(), { maxLength: 10 }),
      (lines, framing, at) => {
        const text = lines.map((l) => framing === "sse" && l.startsWith("{") ? `data: ${l}\n\n` : `${l}\n`).join("")
        const tail = makeTailTracker()
        for (const chunk of cut(Buffer.from(text), at)) tail.push(chunk)
        expect(tail.lastJson()).toEqual(referenceLastJson(text))
        expect(tail.lastLine()).toEqual(referenceLastLine(text))
      }
    ))
  })

  it("keeps only the last 64 KiB: a final line within them is read after megabytes of stream", () => {
    const tail = makeTailTracker()
    const filler = Buffer.from(`${JSON.stringify({ content: "x".repeat(1000), done: false })}\n`)
    for (let i = 0; i < 2000; i++) tail.push(filler)
    tail.push(Buffer.from('{"done":true,"eval_count":7}\n'))
    expect(tail.lastJson()).toEqual({ done: true, eval_count: 7 })
    const big = makeTailTracker()
    big.push(Buffer.from(`{"content":"${"y".repeat(MAX_TAIL)}"}\n`))
    expect(big.lastJson()).toBeUndefined()
  })
})

describe("unfinishedStream", () => {
  const tailOf = (text: string) => {
    const tail = makeTailTracker()
    tail.push(Buffer.from(text))
    return tail
  }
  const chunk = `${JSON.stringify({ message: { content: "Hel" }, done: false })}\n`

  it("passes a stream that ended as Ollama ends one", () => {
    expect(unfinishedStream(false, tailOf(`${chunk}{"done":true,"eval_count":2}\n`))).toBeUndefined()
    expect(unfinishedStream(true, tailOf(`data: {"choices":[]}\n\ndata: [DONE]\n\n`))).toBeUndefined()
    // SSE allows the field without its space
    expect(unfinishedStream(true, tailOf(`data:{"choices":[]}\n\ndata:[DONE]\n\n`))).toBeUndefined()
  })

  it("names the node's own error line, which the client already has", () => {
    expect(unfinishedStream(false, tailOf(`${chunk}{"error":"llama runner process has terminated"}\n`)))
      .toEqual({ detail: "llama runner process has terminated", relayed: true })
  })

  it("catches a stream that just stopped: Ollama's OpenAI routes after a failure, or a native stream without its end", () => {
    const quirk = `data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"role":"","content":""}}]}\n\n`
    expect(unfinishedStream(true, tailOf(quirk))).toEqual({ detail: "its stream ended without [DONE]", relayed: false })
    expect(unfinishedStream(false, tailOf(chunk))).toEqual({ detail: "its stream ended before the final chunk", relayed: false })
    expect(unfinishedStream(false, tailOf(""))).toEqual({ detail: "its stream ended before the final chunk", relayed: false })
  })

  it("trusts a final line too long to read (a generate answer's context can exceed the tail)", () => {
    const tail = tailOf(`${chunk}{"done":true,"context":[${"1,".repeat(MAX_TAIL)}1]}\n`)
    expect(tail.lastLine()).toBeNull()
    expect(unfinishedStream(false, tail)).toBeUndefined()
    // the same when the chunks before the window were let go and exactly MAX_TAIL bytes are kept
    const exact = makeTailTracker()
    exact.push(Buffer.from(`{"done":true,"context":[`))
    exact.push(Buffer.alloc(MAX_TAIL - 2, 0x31))
    exact.push(Buffer.from("]}"))
    expect(exact.lastLine()).toBeNull()
  })
})
