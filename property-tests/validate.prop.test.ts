/**
 * The hand-written fast check in validate.ts must never accept a body the schema rejects: over random bodies of
 * every route, `validateBody` and the schema alone give the same verdict (and the same error text).
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { RequestKind } from "../src/domain/Request.js"
import { validateBody, validateWithSchema } from "../src/http/validate.js"

const KINDS: ReadonlyArray<RequestKind> = [
  "chat",
  "generate",
  "embed",
  "embeddings",
  "show",
  "openai-chat",
  "openai-completions",
  "openai-embeddings"
]

// Values that sit on the edges of the checks: wrong types, null, empty strings and arrays, nested odd shapes.
const scalar = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom("", "x", "float", "base64", "user", "llama3.2:3b")
)
const message = fc.oneof(
  fc.record({ role: scalar, content: fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })) }, { requiredKeys: [] }),
  scalar,
  fc.array(scalar, { maxLength: 2 })
)
const field = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 3 }),
  fc.array(fc.constantFrom("a", "b"), { maxLength: 3 }),
  fc.array(message, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom("num_ctx", "temperature", "stop", "use_mmap", "not_an_option"), fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })))
)
const body = fc.record(
  {
    model: field,
    name: field,
    messages: field,
    prompt: field,
    system: field,
    input: field,
    stream: field,
    options: field,
    max_tokens: field,
    encoding_format: field
  },
  { requiredKeys: [] }
)

const verdict = (e: Either.Either<Record<string, unknown>, { readonly message: string }>) =>
  Either.isRight(e) ? { ok: true, body: e.right } : { ok: false, message: e.left.message }

describe("validateBody", () => {
  it("agrees with the schema on every route", () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), body, (kind, raw) => {
        const b = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>
        expect(verdict(validateBody(kind, b))).toEqual(verdict(validateWithSchema(kind, b)))
      }),
      { seed: 7, numRuns: 3_000 }
    )
  })

  it("accepts the usual bodies on the fast path", () => {
    const chat = { model: "m", messages: [{ role: "user", content: "hi" }], stream: false, options: { num_ctx: 8 } }
    expect(Either.isRight(validateBody("chat", chat))).toBe(true)
    expect(Either.isRight(validateBody("openai-chat", { model: "m", messages: [{ role: "user", content: "hi" }] }))).toBe(true)
    expect(Either.getOrThrow(validateBody("show", { name: "m" }))).toEqual({ name: "m", model: "m" })
  })

  it("words a bad encoding_format as OpenAI does", () => {
    const bad = validateBody("openai-embeddings", { model: "m", input: "x", encoding_format: "hex" })
    expect(verdict(bad)).toEqual({ ok: false, message: "Invalid value for 'encoding_format' = hex. Supported values: ['float', 'base64']." })
  })
})
