/**
 * The embedded runtime's ClientSink: the workflow writes to it exactly as to a node:http response, and the caller
 * gets a parsed JSON answer, or an async iterable of parsed NDJSON chunks, or a SollolError.
 */
import { SollolError } from "../client/SollolError.js"
import { errorTextOf } from "../runtime/respond.js"
import type { ClientSink } from "../runtime/ClientSink.js"
import { messageOf, errorResponse } from "../http/errorResponse.js"
import { makeChannel, makeLineParser } from "./channel.js"

const requestIdOf = (headers: Record<string, string | Array<string>>): string | undefined => {
  const id = headers["x-sollol-request-id"]
  return typeof id === "string" ? id : undefined
}

/** A chunk Ollama itself sent as `{"error": "..."}` in the middle of a stream. */
const streamedError = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null && typeof (value as Record<string, unknown>).error === "string"
    ? (value as Record<string, string>).error
    : undefined

export interface EmbeddedCall<A> {
  readonly sink: ClientSink
  /** Settles with the answer (or the stream) once the head is known, or with a SollolError. */
  readonly result: Promise<A>
  /** The workflow ended: anything still open ends with "aborted" (a no-op after a normal end). */
  readonly settle: () => void
}

/**
 * 1. `reject` (nothing sent yet) → SollolError with the status errorResponse gives that error;
 * 2. `start` with status ≥ 400 → the body is collected and becomes a SollolError with the node's text;
 * 3. streaming: `start` resolves with the iterable; chunks are parsed line by line; `fail` ends it with an error;
 * 4. otherwise the whole body is parsed at `end`.
 */
export const makeEmbeddedCall = <A>(stream: boolean, cancel: () => void): EmbeddedCall<A> => {
  let resolve!: (value: A) => void
  let reject!: (error: unknown) => void
  const result = new Promise<A>((res, rej) => {
    resolve = res
    reject = rej
  })
  const channel = makeChannel<unknown>(cancel)
  let status = 0
  let requestId: string | undefined
  const chunks: Array<Uint8Array> = []
  const parser = makeLineParser((value) => {
    const error = streamedError(value)
    if (error !== undefined) channel.fail(new SollolError({ status: 502, message: error, ...(requestId ? { requestId } : {}) }))
    else channel.push(value)
  })
  const streaming = () => stream && status < 300
  const failWith = (error: SollolError) => (streaming() ? channel.fail(error) : reject(error))

  const sink: ClientSink = {
    framing: stream ? "ndjson" : "json",
    start: (s, headers) => {
      status = s
      requestId = requestIdOf(headers)
      if (streaming()) resolve(channel.iterable as A)
    },
    write: (chunk) => {
      if (!streaming()) return void chunks.push(chunk)
      try {
        parser.write(chunk)
      } catch (error) {
        failWith(new SollolError({ status: 502, message: `unparseable stream chunk: ${String(error)}` }))
      }
      return true
    },
    onDrain: (resume) => channel.onDrain(resume),
    end: (last) => {
      if (last !== undefined) sink.write(last)
      if (streaming()) {
        try {
          parser.end()
        } catch (error) {
          return failWith(new SollolError({ status: 502, message: `unparseable stream chunk: ${String(error)}` }))
        }
        return channel.end()
      }
      const body = Buffer.concat(chunks)
      const id = requestId !== undefined ? { requestId } : {}
      if (status >= 400) return reject(new SollolError({ status, message: errorTextOf(body), ...id }))
      try {
        resolve(JSON.parse(body.toString("utf8")) as A)
      } catch {
        reject(new SollolError({ status: 502, message: "the node answered with invalid JSON", ...id }))
      }
    },
    fail: (message) => failWith(new SollolError({ status: 502, message, ...(requestId ? { requestId } : {}) })),
    reject: (error, headers) => {
      const id = requestIdOf(headers)
      const status = errorResponse(error).status
      reject(new SollolError({ status, message: messageOf(error), ...(id ? { requestId: id } : {}) }))
      return status
    }
  }
  const settle = () => {
    const error = new SollolError({ status: 499, message: "request aborted", ...(requestId ? { requestId } : {}) })
    reject(error)
    channel.fail(error)
  }
  return { sink, result, settle }
}
