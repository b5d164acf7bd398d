/** Ollama's bytes: Go-style compact JSON, NDJSON and SSE framing, error bodies, and request-body parsing. */
import { Effect } from "effect"
import type { UpstreamError } from "../domain/errors.js"
import { isGoJsonBlank, parseFirstJsonValue } from "../domain/goJsonSyntax.js"

/** Where one response goes; built by `SimNode.handle` over the caller's `accept`/sink (faults apply there). */
export interface Reply {
  /** Sends status and headers (lower-case names); only the first call counts. */
  readonly head: (status: number, headers: Readonly<Record<string, string>>) => Effect.Effect<void>
  /** Sends one body chunk; fails when the connection is (made to be) reset. Ignored after a HEAD request. */
  readonly write: (chunk: string) => Effect.Effect<void, UpstreamError>
}

const goEscapes = /[<>&\u2028\u2029\u0085]/g

/** `json.Marshal`: compact, with `<`, `>`, `&`, U+2028, U+2029 and U+0085 escaped (ollama-api.md §6.6). */
export const goJson = (value: unknown): string =>
  JSON.stringify(value).replace(goEscapes, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

export const JSON_UTF8 = "application/json; charset=utf-8"
export const NDJSON = "application/x-ndjson"

const byteLength = (s: string): number => Buffer.byteLength(s, "utf8")

/** A whole body with its content length, as gin's `c.JSON`/`c.String` send it. */
export const sendBody = (reply: Reply, status: number, contentType: string, body: string) =>
  Effect.zipRight(
    reply.head(status, { "content-type": contentType, "content-length": String(byteLength(body)) }),
    body.length > 0 ? reply.write(body) : Effect.void
  )

export const sendJson = (reply: Reply, status: number, value: unknown, contentType = JSON_UTF8) =>
  sendBody(reply, status, contentType, goJson(value))

/** Ollama's `{"error":"…"}`. */
export const ollamaError = (reply: Reply, status: number, message: string) => sendJson(reply, status, { error: message })

/** OpenAI-compat error shape (`openai.NewError`). */
export const openaiError = (reply: Reply, status: number, message: string) =>
  sendJson(reply, status, {
    error: {
      message,
      type: status === 400 ? "invalid_request_error" : status === 404 ? "not_found_error" : "api_error",
      param: null,
      code: null
    }
  })

/** gin's defaults for an unknown path and a wrong method: plain text, not JSON. */
export const notFound = (reply: Reply) => sendBody(reply, 404, "text/plain", "404 page not found")
export const methodNotAllowed = (reply: Reply) => sendBody(reply, 405, "text/plain", "405 method not allowed")

export const BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"

export type Parsed = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly message: string }

/** Parses a JSON object body as Ollama's handlers do (`missing request body`, then `firstJsonValue`). */
export const parseBody = (body: Uint8Array | undefined): Parsed => {
  const text = body === undefined ? "" : Buffer.from(body).toString("utf8")
  if (isGoJsonBlank(text)) return { ok: false, message: "missing request body" }
  const parsed = parseFirstJsonValue(text)
  if (!parsed.ok) return parsed
  const value = parsed.value
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "array" : value === null ? "null" : typeof value
    return { ok: false, message: `json: cannot unmarshal ${kind} into Go value of type api.Request` }
  }
  return { ok: true, value: value as Record<string, unknown> }
}

/** RFC 3339 UTC timestamp of a clock reading in ms (Go's `time.Time` JSON, millisecond precision). */
export const timestamp = (ms: number): string => new Date(ms).toISOString()

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
export const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined

