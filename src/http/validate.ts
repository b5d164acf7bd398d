/**
 * Request bodies checked with effect/Schema before anything reaches a node. Only the fields the gateway relies
 * on, or that Ollama would reject anyway, are checked; everything else is forwarded untouched.
 */
import { Either, ParseResult, Schema } from "effect"
import { BadRequest, ModelNotFound } from "../domain/errors.js"
import { bindError, NATIVE_REQUESTS, nativeBindError } from "../domain/goJson.js"
import { isGoJsonBlank, parseFirstJsonValue } from "../domain/goJsonSyntax.js"
import type { NativeRoute } from "../domain/goJson.js"
import type { GoField } from "../domain/goJson.js"
import { optionsError } from "../domain/ollamaOptions.js"
import type { RequestKind } from "../domain/Request.js"
import type { AdminOp } from "./admin.js"

// Ollama decodes bodies with Go's encoding/json, where `null` leaves a field unset: optional fields accept it.
const Options = Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
const Model = Schema.String.pipe(Schema.minLength(1, { message: () => "model is required" }))
const Message = Schema.Struct({
  role: Schema.String,
  content: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.Unknown), Schema.Null))
})
const Stream = Schema.optional(Schema.NullOr(Schema.Boolean))
const Text = Schema.optional(Schema.NullOr(Schema.String))
const StringOrStrings = Schema.Union(Schema.String, Schema.Array(Schema.String))

const schemas: Record<RequestKind, Schema.Schema<unknown>> = {
  chat: Schema.Struct({ model: Model, messages: Schema.optional(Schema.NullOr(Schema.Array(Message))), stream: Stream, options: Options }),
  generate: Schema.Struct({ model: Model, prompt: Text, system: Text, stream: Stream, options: Options }),
  embed: Schema.Struct({ model: Model, input: Schema.optional(Schema.NullOr(StringOrStrings)), options: Options }),
  embeddings: Schema.Struct({ model: Model, prompt: Text, options: Options }),
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

// A conservative check of the common well-formed shapes, written out by hand: a body it accepts always passes the
// schema too, so the schema (~180 µs per request) only runs to accept the unusual or to word the error.
const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const optionalOf = (u: unknown, check: (u: unknown) => boolean) => u === undefined || u === null || check(u)
const isString = (u: unknown): u is string => typeof u === "string"
const isBoolean = (u: unknown) => typeof u === "boolean"
const isModel = (u: unknown) => typeof u === "string" && u.length >= 1
const isStrings = (u: unknown) => isString(u) || Array.isArray(u) && u.every(isString)
const isMessage = (u: unknown) =>
  isObject(u) && isString(u.role) && (u.content === undefined || u.content === null || isString(u.content) ||
    Array.isArray(u.content))
const isMessages = (u: unknown) => Array.isArray(u) && u.every(isMessage)

const plainlyValid: Record<RequestKind, (b: Record<string, unknown>) => boolean> = {
  chat: (b) =>
    isModel(b.model) && (b.messages === undefined || b.messages === null || isMessages(b.messages)) &&
    optionalOf(b.stream, isBoolean) && optionalOf(b.options, isObject),
  generate: (b) =>
    isModel(b.model) && optionalOf(b.prompt, isString) && optionalOf(b.system, isString) &&
    optionalOf(b.stream, isBoolean) && optionalOf(b.options, isObject),
  embed: (b) => isModel(b.model) && optionalOf(b.input, isStrings) && optionalOf(b.options, isObject),
  embeddings: (b) => isModel(b.model) && optionalOf(b.prompt, isString) && optionalOf(b.options, isObject),
  show: (b) => isModel(b.model),
  "openai-chat": (b) =>
    isModel(b.model) && isMessages(b.messages) && (b.messages as ReadonlyArray<unknown>).length >= 1 &&
    optionalOf(b.stream, isBoolean) && (b.max_tokens === undefined || b.max_tokens === null || typeof b.max_tokens === "number"),
  "openai-completions": (b) => isModel(b.model) && isString(b.prompt) && optionalOf(b.stream, isBoolean),
  "openai-embeddings": (b) =>
    isModel(b.model) && isStrings(b.input) &&
    (b.encoding_format === undefined || b.encoding_format === "float" || b.encoding_format === "base64")
}

/**
 * Parses raw bytes as a JSON object, as Ollama does regardless of Content-Type: its first JSON value (what follows
 * is ignored, as Go's decoder ignores it), a malformed one refused in Go's words.
 */
export const parseJsonObject = (raw: Buffer): Either.Either<Record<string, unknown>, BadRequest> => {
  const missing = () => Either.left(new BadRequest({ reason: "EmptyBody", message: "missing request body" }))
  if (raw.length === 0) return missing()
  const text = raw.toString("utf8")
  if (isGoJsonBlank(text)) return missing()
  const parsed = parseFirstJsonValue(text)
  if (!parsed.ok) return Either.left(new BadRequest({ reason: "Json", message: parsed.message }))
  const value = parsed.value
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(new BadRequest({ reason: "Json", message: "invalid JSON: the body must be a JSON object" }))
  }
  return Either.right(value as Record<string, unknown>)
}

/** `/api/show` and `/api/delete` accept `name` for `model`, as Ollama does. */
const withModelAlias = (body: Record<string, unknown>): Record<string, unknown> =>
  (body.model === undefined || body.model === null) && typeof body.name === "string" ? { ...body, model: body.name } : body

/** The native routes whose `options` a node would check before scheduling (`Options.FromMap`). */
const takesOptions: ReadonlySet<RequestKind> = new Set(["chat", "generate", "embed", "embeddings"])

/**
 * An option of the wrong type, refused here with Ollama's words: a node would answer it with a 500, which the
 * gateway would take for the node's failure, retry elsewhere and count against every node it tried.
 */
const checkOptions = (kind: RequestKind, body: Record<string, unknown>): Either.Either<Record<string, unknown>, BadRequest> => {
  const options = body.options
  if (!takesOptions.has(kind) || typeof options !== "object" || options === null) return Either.right(body)
  const why = optionsError(options as Record<string, unknown>)
  return why === undefined ? Either.right(body) : Either.left(new BadRequest({ reason: "Field", message: why }))
}

/**
 * What Ollama answers a native body the schema refused with: Go's decoder wording for a field of the wrong type,
 * `invalid input type` for an embed input that is neither a string nor strings, and for a missing model the words
 * of each handler (chat, embed, show: 400 `model is required`; generate: 404 `model '' not found`).
 */
const nativeRefusal = (kind: RequestKind, body: Record<string, unknown>): BadRequest | ModelNotFound | undefined => {
  if (!(kind in NATIVE_REQUESTS)) return undefined
  const wrongType = nativeBindError(kind as NativeRoute, body)
  if (wrongType !== undefined) return new BadRequest({ reason: "Field", message: wrongType })
  if (kind === "embed" && body.input !== undefined && body.input !== null && !isStrings(body.input)) {
    return new BadRequest({ reason: "Field", message: "invalid input type" })
  }
  if (typeof body.model === "string" && body.model !== "" || kind === "show" && typeof body.name === "string" && body.name !== "") {
    return undefined
  }
  return kind === "generate" ? new ModelNotFound({ model: "" }) : new BadRequest({ reason: "Field", message: "model is required" })
}

export type Refusal = BadRequest | ModelNotFound

export const validateBody = (
  kind: RequestKind,
  body: Record<string, unknown>
): Either.Either<Record<string, unknown>, Refusal> => {
  const candidate = kind === "show" ? withModelAlias(body) : body
  return plainlyValid[kind](candidate) ? checkOptions(kind, candidate) : validateWithSchema(kind, body, candidate)
}

/** The schema's verdict, then the options' (what `validateBody` falls back to); exported so tests can compare the two. */
export const validateWithSchema = (
  kind: RequestKind,
  body: Record<string, unknown>,
  candidate: Record<string, unknown> = kind === "show" ? withModelAlias(body) : body
): Either.Either<Record<string, unknown>, Refusal> => {
  const checked = Either.mapBoth(validators[kind](candidate), {
    onLeft: (error): Refusal => {
      const native = nativeRefusal(kind, body)
      if (native !== undefined) return native
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `
      // Ollama's OpenAI middleware checks `len(messages) == 0` first: absent, null and [] all get its words
      const noMessages = kind === "openai-chat" && (body.messages === undefined || body.messages === null ||
        Array.isArray(body.messages) && body.messages.length === 0)
      const message = noMessages
        ? "[] is too short - 'messages'"
        : issue?.message === "model is required" || issue?.path[0] === "model" && body.model === undefined
        ? "model is required"
        : issue?.path[0] === "encoding_format"
        ? `Invalid value for 'encoding_format' = ${String(body.encoding_format)}. Supported values: ['float', 'base64'].`
        : `invalid request: ${path}${issue?.message ?? "malformed body"}`
      return new BadRequest({ reason: "Field", message })
    },
    onRight: () => candidate
  })
  return Either.flatMap(checked, (b) => checkOptions(kind, b))
}

/** The fields of each admin route the gateway relies on, with their Go request struct for the decoder's wording. */
const ADMIN_FIELDS: Record<AdminOp, { readonly struct: string; readonly fields: Readonly<Record<string, GoField>> }> = {
  pull: { struct: "PullRequest", fields: { model: "string", name: "string", insecure: "bool", stream: "bool" } },
  push: { struct: "PushRequest", fields: { model: "string", name: "string", insecure: "bool", stream: "bool" } },
  create: { struct: "CreateRequest", fields: { model: "string", name: "string", stream: "bool" } },
  copy: { struct: "CopyRequest", fields: { source: "string", destination: "string" } },
  delete: { struct: "DeleteRequest", fields: { model: "string", name: "string" } }
}

const fieldError = (message: string) => Either.left(new BadRequest({ reason: "Field", message }))

/**
 * An admin body checked before it is fanned out, with the words Ollama's handlers use (`server/routes.go`): a field
 * of the wrong type as Go's decoder says it, then a missing model (`invalid model name`; delete:
 * `name "" is invalid`; copy: `source "" is invalid`, `destination "" is invalid`). Without it every node would
 * refuse the body on its own, after a merged stream had already answered 200.
 */
export const validateAdminBody = (
  op: AdminOp,
  body: Record<string, unknown>
): Either.Either<Record<string, unknown>, BadRequest> => {
  const { fields, struct } = ADMIN_FIELDS[op]
  const wrongType = bindError(struct, body, fields)
  if (wrongType !== undefined) return fieldError(wrongType)
  const text = (key: string) => typeof body[key] === "string" ? body[key] as string : ""
  const name = text("model") || text("name")
  switch (op) {
    case "copy":
      if (text("source") === "") return fieldError(`source "" is invalid`)
      if (text("destination") === "") return fieldError(`destination "" is invalid`)
      return Either.right(body)
    case "delete":
      return name === "" ? fieldError(`name "" is invalid`) : Either.right(body)
    case "push":
      return name === "" ? fieldError("model is required") : Either.right(body)
    default:
      return name === "" ? fieldError("invalid model name") : Either.right(body)
  }
}
