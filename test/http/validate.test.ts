/**
 * Native bodies are judged as Ollama's Go decoder judges them: `null` leaves a field unset, a field of the wrong
 * type gets the decoder's words, and a missing model gets each handler's own answer (ollama-api.md §3, §5).
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import type { RequestKind } from "../../src/domain/Request.js"
import { errorResponse } from "../../src/http/errorResponse.js"
import { parseJsonObject, validateBody } from "../../src/http/validate.js"

const refused = (kind: RequestKind, body: Record<string, unknown>) => {
  const verdict = validateBody(kind, body)
  if (Either.isRight(verdict)) throw new Error(`accepted: ${JSON.stringify(body)}`)
  return { status: errorResponse(verdict.left).status, message: verdict.left.message }
}

describe("native request bodies", () => {
  it("take null as unset, as Go does", () => {
    const accepted: ReadonlyArray<readonly [RequestKind, Record<string, unknown>]> = [
      ["generate", { model: "m", prompt: "hi", stream: null }],
      ["generate", { model: "m", prompt: null, system: null, options: null }],
      ["chat", { model: "m", messages: [{ role: "user", content: "x" }], stream: null, options: null }],
      ["embed", { model: "m", input: null, options: null }],
      ["embeddings", { model: "m", prompt: null, options: null }],
      ["show", { model: null, name: "m" }]
    ]
    for (const [kind, body] of accepted) expect(Either.isRight(validateBody(kind, body)), JSON.stringify(body)).toBe(true)
    expect(Either.getOrThrow(validateBody("show", { model: null, name: "m" }))).toMatchObject({ model: "m" })
  })

  it("word a field of the wrong type as Go's decoder does", () => {
    expect(refused("chat", { model: "m", messages: 5 })).toEqual({
      status: 400,
      message: "json: cannot unmarshal number into Go struct field ChatRequest.messages of type []api.Message"
    })
    expect(refused("chat", { model: "m", messages: "hi" }).message).toBe(
      "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"
    )
    expect(refused("chat", { model: "m", messages: ["hi"] }).message).toBe(
      "json: cannot unmarshal string into Go struct field ChatRequest.messages of type api.Message"
    )
    expect(refused("chat", { model: "m", messages: [{ role: 1 }] }).message).toBe(
      "json: cannot unmarshal number into Go struct field Message.messages.role of type string"
    )
    expect(refused("chat", { model: "m", messages: [], stream: "no" }).message).toBe(
      "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"
    )
    expect(refused("generate", { model: 123, prompt: "x" }).message).toBe(
      "json: cannot unmarshal number into Go struct field GenerateRequest.model of type string"
    )
    expect(refused("generate", { model: "m", options: [1] }).message).toBe(
      "json: cannot unmarshal array into Go struct field GenerateRequest.options of type map[string]interface {}"
    )
    expect(refused("embeddings", { model: "m", prompt: 5 }).message).toBe(
      "json: cannot unmarshal number into Go struct field EmbeddingRequest.prompt of type string"
    )
  })

  it("refuse an embed input that is neither a string nor strings with Ollama's words", () => {
    expect(refused("embed", { model: "m", input: 5 })).toEqual({ status: 400, message: "invalid input type" })
    expect(refused("embed", { model: "m", input: ["a", 1] })).toEqual({ status: 400, message: "invalid input type" })
  })

  it("answer a missing model as each handler does", () => {
    expect(refused("generate", { prompt: "hi" })).toEqual({ status: 404, message: "model '' not found" })
    expect(refused("generate", { model: "", prompt: "hi" })).toEqual({ status: 404, message: "model '' not found" })
    expect(refused("chat", { model: "" })).toEqual({ status: 400, message: "model is required" })
    expect(refused("embed", { input: "x" })).toEqual({ status: 400, message: "model is required" })
    expect(refused("show", {})).toEqual({ status: 400, message: "model is required" })
  })
})

describe("request body JSON", () => {
  const parsed = (text: string) => parseJsonObject(Buffer.from(text))

  it("is refused in the words of Go's decoder", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['{"model": x}', "invalid character 'x' looking for beginning of value"],
      ['{"model":"llama3.2",}', "invalid character '}' looking for beginning of object key string"],
      ["{bad", "invalid character 'b' looking for beginning of object key string"],
      ['{"model":"m",', "unexpected EOF"],
      ['{"model" "m"}', "invalid character '\"' after object key"],
      ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
      ['{"a":[1 2]}', "invalid character '2' after array element"],
      ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
      ['{"a":"x\ty"}', "invalid character '\\t' in string literal"],
      ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
      ['{"a":01}', "invalid character '1' after object key:value pair"],
      ["<html>", "invalid character '<' looking for beginning of value"],
      // Go's scanner reads bytes: a non-ASCII character is named by its first UTF-8 byte, as Latin-1
      ['{"a":é}', "invalid character 'Ã' looking for beginning of value"],
      ['{"a":😀}', "invalid character 'ð' looking for beginning of value"],
      ['{"a":\\}', "invalid character '\\\\' looking for beginning of value"],
      ['{"a":\u0007}', "invalid character '\\a' looking for beginning of value"],
      // only Go's four whitespace characters separate tokens
      ['\u00a0{"a":1}', "invalid character 'Â' looking for beginning of value"]
    ]
    for (const [text, message] of cases) {
      const verdict = parsed(text)
      expect(Either.isLeft(verdict) ? verdict.left.message : "accepted", text).toBe(message)
    }
    expect(Either.isLeft(parsed("  \n"))).toBe(true)
    expect(Either.getLeft(parsed("  \n")).pipe((o) => o._tag === "Some" ? o.value.message : "")).toBe("missing request body")
  })

  it("is refused past Go's nesting limit, however deep, without overflowing the stack", () => {
    // well-formed too: V8 would take it, Go does not
    for (const text of ["[".repeat(100_000), "[".repeat(10_001) + "]".repeat(10_001), `{"a":${"[".repeat(1_000_000)}`]) {
      const verdict = parsed(text)
      expect(Either.isLeft(verdict) ? verdict.left.message : "accepted").toBe("invalid character '[' exceeded max depth")
    }
  })

  it("is the body's first value, what follows it ignored, as Go's decoder reads it", () => {
    expect(Either.getOrThrow(parsed('{"model":"m","prompt":"hi"} trailing'))).toEqual({ model: "m", prompt: "hi" })
    expect(Either.getOrThrow(parsed('{"model":"m"}{"model":"other"}'))).toEqual({ model: "m" })
  })
})
