/**
 * Request bodies checked with effect/Schema before anything reaches a node. Only the fields the gateway relies
 * on, or that Ollama would reject anyway, are checked; everything else is forwarded untouched.
 */
import { Either, ParseResult, Schema } from "effect"
import { BadRequest } from "../domain/errors.js"
import type { RequestKind } from "../domain/Request.js"

const Options = Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
const Model = Schema.String.pipe(Schema.minLength(1, { message: () => "model is required" }))
const Message = Schema.Struct({
  role: Schema.String,
  content: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.Unknown), Schema.Null))
})
const Stream = Schema.optional(Schema.Boolean)
const StringOrStrings = Schema.Union(Schema.String, Schema.Array(Schema.String))

const schemas: Record<RequestKind, Schema.Schema<unknown>> = {
  chat: Schema.Struct({ model: Model, messages: Schema.optional(Schema.NullOr(Schema.Array(Message))), stream: Stream, options: Options }),
  generate: Schema.Struct({ model: Model, prompt: Schema.optional(Schema.String), system: Schema.optional(Schema.String), stream: Stream, options: Options }),
  embed: Schema.Struct({ model: Model, input: Schema.optional(StringOrStrings), options: Options }),
  embeddings: Schema.Struct({ model: Model, prompt: Schema.optional(Schema.String), options: Options }),
  show: Schema.Struct({ model: Model }),
  "openai-chat": Schema.Struct({
    model: Model,
    messages: Schema.Array(Message).pipe(Schema.minItems(1, { message: () => "[] is too short - 'messages'" })),
    stream: Stream,
    max_tokens: Schema.optional(Schema.NullOr(Schema.Number))
  }),
  "openai-completions": Schema.Struct({ model: Model, prompt: Schema.String, stream: Stream }),
  "openai-embeddings": Schema.Struct({
    model: Model,
    input: StringOrStrings,
    encoding_format: Schema.optional(Schema.Literal("float", "base64"))
  })
} as Record<RequestKind, Schema.Schema<unknown>>

const validators = Object.fromEntries(
  Object.entries(schemas).map(([kind, schema]) => [kind, Schema.validateEither(schema, { errors: "first" })])
) as Record<RequestKind, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>

/** Parses raw bytes as a JSON object, as Ollama does regardless of Content-Type. */
export const parseJsonObject = (raw: Buffer): Either.Either<Record<string, unknown>, BadRequest> => {
  if (raw.length === 0) return Either.left(new BadRequest({ reason: "EmptyBody", message: "missing request body" }))
  let value: unknown
  try {
    value = JSON.parse(raw.toString("utf8"))
  } catch (error) {
    return Either.left(new BadRequest({ reason: "Json", message: `invalid JSON: ${(error as Error).message}` }))
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(new BadRequest({ reason: "Json", message: "invalid JSON: the body must be a JSON object" }))
  }
  return Either.right(value as Record<string, unknown>)
}

/** `/api/show` and `/api/delete` accept `name` for `model`, as Ollama does. */
const withModelAlias = (body: Record<string, unknown>): Record<string, unknown> =>
  body.model === undefined && typeof body.name === "string" ? { ...body, model: body.name } : body

export const validateBody = (
  kind: RequestKind,
  body: Record<string, unknown>
): Either.Either<Record<string, unknown>, BadRequest> => {
  const candidate = kind === "show" ? withModelAlias(body) : body
  return Either.mapBoth(validators[kind](candidate), {
    onLeft: (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `
      const message = issue?.message === "model is required" || issue?.path[0] === "model" && body.model === undefined
        ? "model is required"
        : `invalid request: ${path}${issue?.message ?? "malformed body"}`
      return new BadRequest({ reason: "Field", message })
    },
    onRight: () => candidate
  })
}
