/**
 * How one attempt's response reaches the client: streamed bodies pass through chunk by chunk (the tail is kept
 * to read Ollama's final timing fields); non-streaming bodies are held until complete, so a node that dies
 * mid-body can still be retried, and so `_sollol_routing` can be added.
 */
import { stringifyJson } from "../domain/json.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { forwardResponseHeaders } from "./headers.js"
import type { ClientSink, ResponseHeaders } from "./ClientSink.js"

/** Keeps the last complete line seen and the bytes after it (a line may span chunks). */
export interface TailTracker {
  readonly push: (chunk: Uint8Array) => void
  /** The last non-empty line, parsed, if it is JSON. */
  readonly lastJson: () => unknown
}

const MAX_TAIL = 64 * 1024

export const makeTailTracker = (): TailTracker => {
  let tail = ""
  const decoder = new TextDecoder()
  return {
    push: (chunk) => {
      tail += decoder.decode(chunk, { stream: true })
      if (tail.length > MAX_TAIL) {
        // Keep from the last line start that still fits; the final line is what matters.
        const cut = tail.lastIndexOf("\n", tail.length - 2)
        tail = cut >= 0 ? tail.slice(cut + 1) : tail.slice(-MAX_TAIL)
      }
    },
    lastJson: () => {
      const lines = tail.split("\n").filter((l) => l.trim() !== "")
      const last = lines[lines.length - 1]
      if (last === undefined) return undefined
      const text = last.startsWith("data: ") ? last.slice(6) : last
      try {
        return JSON.parse(text)
      } catch {
        return undefined
      }
    }
  }
}

/** Collects a whole body (error bodies, non-streaming answers). */
export const makeCollector = () => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  let joined: Buffer | undefined
  const sink: BodySink = {
    write: (chunk) => {
      chunks.push(chunk)
      size += chunk.byteLength
      joined = undefined
    }
  }
  const bytes = () => joined ??= Buffer.concat(chunks, size)
  return { sink, bytes, size: () => size }
}

/** Ollama's error text out of an error body, else the raw text. */
export const errorTextOf = (body: Buffer): string => {
  const text = body.toString("utf8")
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed === "object" && parsed !== null) {
      const error = (parsed as Record<string, unknown>)["error"]
      if (typeof error === "string") return error
      if (typeof error === "object" && error !== null && typeof (error as Record<string, unknown>)["message"] === "string") {
        return (error as Record<string, string>)["message"]!
      }
    }
  } catch {
    // not JSON: fall through to the text
  }
  return text.trim().slice(0, 500)
}

/** The node's response headers (hop-by-hop removed) with the gateway's own added. */
export const responseHeaders = (head: UpstreamHead, extra: ResponseHeaders): ResponseHeaders => {
  const out = forwardResponseHeaders(head.headers)
  for (const name in extra) out[name] = extra[name]!
  return out
}

const CLOSE_BRACE = 0x7d
const isJsonSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/**
 * Adds `routing` as `_sollol_routing` to a JSON object body; other bodies are returned unchanged. The member is
 * spliced in before the closing brace rather than by parsing and re-serialising the body, which for an embedding
 * answer would cost more than the whole proxying.
 */
export const withRoutingInfo = (body: Buffer, routing: unknown): Uint8Array => {
  if (body.length < 2 || body[0] !== 0x7b) return body
  let end = body.length - 1
  while (end > 0 && isJsonSpace(body[end]!)) end--
  if (body[end] !== CLOSE_BRACE) return body
  let inner = end - 1
  while (inner > 0 && isJsonSpace(body[inner]!)) inner--
  const empty = inner === 0
  const member = `${empty ? "" : ","}"_sollol_routing":${stringifyJson(routing)}}`
  return Buffer.concat([body.subarray(0, end), Buffer.from(member, "utf8"), body.subarray(end + 1)])
}

/** Passes a streamed body to the client, honouring backpressure, and remembers its tail. */
export const passThrough = (client: ClientSink, tail: TailTracker, onFirstChunk: () => void): BodySink => {
  let first = true
  return {
    write: (chunk) => {
      if (first) {
        first = false
        onFirstChunk()
      }
      tail.push(chunk)
      return client.write(chunk)
    },
    ...(client.onDrain !== undefined ? { onDrain: client.onDrain } : {})
  }
}
