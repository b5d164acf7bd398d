/** The one place where tagged errors become HTTP statuses and bodies (Ollama's shape, or OpenAI's on /v1). */
import type { GatewayError } from "../domain/errors.js"
import { stringifyJson } from "../domain/json.js"
import { BUSY_RETRY_AFTER_SECONDS } from "../runtime/retryPolicy.js"
import { describeUpstreamError } from "../runtime/timeouts.js"

export type { GatewayError }

export type ErrorFlavor = "ollama" | "openai"

export interface ErrorResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const statusOf = (error: GatewayError): { status: number; retryAfter?: number } => {
  switch (error._tag) {
    case "BadRequest":
      return {
        status: error.reason === "TooLarge" ? 413 : error.reason === "Method" ? 405 : error.reason === "Path" ? 404 : 400
      }
    case "ModelNotFound":
      return { status: 404 }
    case "NoCandidates":
      return { status: 503, retryAfter: 5 }
    case "QueueFull":
      return { status: 503, retryAfter: error.retryAfterSeconds }
    case "ShuttingDown":
      return { status: 503, retryAfter: 1 }
    case "InternalError":
      return { status: 500 }
    case "AuthError":
      return error.reason === "RateLimited"
        ? { status: 429, retryAfter: error.retryAfterSeconds ?? 1 }
        : { status: error.reason === "Forbidden" ? 403 : 401 }
    case "UpstreamError":
      switch (error.reason) {
        case "StatusCode":
          return error.status === 503 || error.status === 429
            ? { status: error.status, retryAfter: BUSY_RETRY_AFTER_SECONDS }
            : { status: error.status ?? 502 }
        case "ConnectTimeout":
        case "FirstByteTimeout":
        case "IdleTimeout":
        case "TotalTimeout":
          return { status: 504 }
        default:
          return { status: 502 }
      }
  }
}

/** The message a client sees: the node's own text for a relayed status, else the error's message. */
export const messageOf = (error: GatewayError): string =>
  error._tag !== "UpstreamError"
    ? error.message
    : error.reason === "StatusCode" && error.detail !== undefined
    ? error.detail
    : describeUpstreamError(error)

const openAiType = (status: number) =>
  status === 400 || status === 413 || status === 405
    ? "invalid_request_error"
    : status === 404
    ? "not_found_error"
    : status === 401
    ? "authentication_error"
    : status === 403
    ? "permission_error"
    : status === 429
    ? "rate_limit_error"
    : "api_error"

export const errorResponse = (error: GatewayError, flavor: ErrorFlavor = "ollama"): ErrorResponse => {
  const { retryAfter, status } = statusOf(error)
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" }
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter)
  const message = messageOf(error)
  const body = flavor === "openai"
    ? stringifyJson({ error: { message, type: openAiType(status), param: null, code: null } })
    : stringifyJson({ error: message })
  return { status, headers, body }
}

/** The final line of a native stream that broke after its first byte. */
export const streamErrorLine = (message: string): string => `${stringifyJson({ error: message })}\n`

/** The final event of an OpenAI stream that broke after its first byte (openai-node throws APIError on it). */
export const sseErrorEvent = (message: string): string =>
  `data: ${stringifyJson({ error: { message, type: "api_error", param: null, code: null } })}\n\n`
