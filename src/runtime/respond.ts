/**
 * How one attempt's response reaches the client: streamed bodies pass through chunk by chunk (the tail is kept
 * to read Ollama's final timing fields); non-streaming bodies are held until complete, so a node that dies
 * mid-body can still be retried, and so `_sollol_routing` can be added.
 */
import { stringifyJson } from "../domain/json.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { forwardResponseHeaders } from "./headers.js"
import type { ClientSink, ResponseHeaders } from "./ClientSink.js"

/** Keeps the end of a streamed body to read its last line (Ollama's final object, with the timing fields). */
export interface TailTracker {
  readonly push: (chunk: Uint8Array) => void
  /**
   * The last non-empty line, trimmed: `undefined` when the body had none, `null` when it began before the last
   * `MAX_TAIL` bytes (too long to read whole).
   */
  readonly lastLine: () => string | undefined | null
  /** The last non-empty line within the last `MAX_TAIL` bytes, parsed, if it is JSON (`data: ` prefix allowed). */
  readonly lastJson: () => unknown
}

export const MAX_TAIL = 64 * 1024

const isBlank = (byte: number) => byte === 0x0a || byte === 0x0d || byte === 0x20 || byte === 0x09

/**
 * Per chunk it only keeps a reference (no copy, no decoding): the chunks covering the last `MAX_TAIL` bytes. At the
 * end the last non-empty line is found by scanning those bytes backwards, and only that line is decoded.
 */
export const makeTailTracker = (): TailTracker => {
  const kept: Array<Uint8Array> = []
  let size = 0
  /** Some bytes were let go: the body's start is no longer kept. */
  let forgot = false
  /** The last line and its parse, read once after the last push (the end of a stream asks for both, twice). */
  let line: { readonly text: string | undefined | null; json?: unknown } | undefined
  const lastLine = (): string | undefined | null => (line ??= { text: readLastLine() }).text
  const readLastLine = (): string | undefined | null => {
    // bytes before the window are out of reach: a line that starts there cannot be read whole
    const dropped = Math.max(0, size - MAX_TAIL)
    let skip = dropped
    const window = skip === 0 ? kept : kept.map((c) => {
      const from = Math.min(skip, c.byteLength)
      skip -= from
      return c.subarray(from)
    })
    // from the end: past trailing blanks to the line's last byte, then back to the newline before it
    const parts: Array<Uint8Array> = []
    let inLine = false
    let done = false
    for (let k = window.length - 1; k >= 0 && !done; k--) {
      const c = window[k]!
      let end = c.byteLength
      let i = c.byteLength - 1
      for (; i >= 0; i--) {
        const byte = c[i]!
        if (!inLine) {
          if (isBlank(byte)) end = i
          else inLine = true
        } else if (byte === 0x0a) {
          done = true
          break
        }
      }
      if (inLine) parts.push(c.subarray(i + 1, end))
    }
    if (parts.length === 0) return undefined
    if (!done && (dropped > 0 || forgot)) return null
    return Buffer.concat(parts.reverse()).toString("utf8").trim()
  }
  return {
    push: (chunk) => {
      if (chunk.byteLength === 0) return
      line = undefined
      kept.push(chunk)
      size += chunk.byteLength
      while (kept.length > 1 && size - kept[0]!.byteLength >= MAX_TAIL) {
        size -= kept.shift()!.byteLength
        forgot = true
      }
    },
    lastLine,
    lastJson: () => {
      const read = (line ??= { text: readLastLine() })
      if (read.text === undefined || read.text === null) return undefined
      return "json" in read ? read.json : (read.json = parseLine(read.text))
    }
  }
}

/** A line as JSON (an SSE `data: ` prefix allowed); undefined when it is not. */
const parseLine = (line: string): unknown => {
  try {
    return JSON.parse(line.startsWith("data: ") ? line.slice(6) : line)
  } catch {
    return undefined
  }
}

/** Why a stream the node ended cleanly did not finish; `relayed` when the node's own error line already says so. */
export interface UnfinishedStream {
  readonly detail: string
  readonly relayed: boolean
}

/**
 * Whether a streamed 2xx answer really finished: an SSE stream ends with `data: [DONE]`; a native one with its
 * `done: true` object. Ollama reports a failure mid-generation in the stream itself: natively as a final
 * `{"error": …}` line, and on its OpenAI routes as an empty delta after which the stream just stops, which
 * clients read as a complete answer. A last line too long to read is given the benefit of the doubt.
 */
export const unfinishedStream = (sse: boolean, tail: TailTracker): UnfinishedStream | undefined => {
  const line = tail.lastLine()
  if (line === null) return undefined
  if (sse) return /^data:\s*\[DONE\]$/.test(line ?? "") ? undefined : { detail: "its stream ended without [DONE]", relayed: false }
  const last = tail.lastJson()
  const record = typeof last === "object" && last !== null ? (last as Record<string, unknown>) : {}
  if (typeof record["error"] === "string") return { detail: record["error"], relayed: true }
  return record["done"] === true ? undefined : { detail: "its stream ended before the final chunk", relayed: false }
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
const isJsonSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x09

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
