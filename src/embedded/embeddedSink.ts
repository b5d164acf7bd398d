/**
 * The embedded runtime's ClientSink: the workflow writes to it exactly as to a node:http response, and the caller
 * gets a parsed JSON answer, or an async iterable of parsed NDJSON chunks, or a SollolError.
 */
import type { Exit } from "effect"
import { SollolError } from "../client/SollolError.js"
import { errorResponse } from "../http/errorResponse.js"
import type { ClientSink } from "../runtime/ClientSink.js"
import { errorTextOf } from "../runtime/respond.js"
import { makeChannel, makeLineParser } from "./channel.js"
import { exitError, gatewayError } from "./errors.js"
import type { CallFailure, StoppedBy } from "./errors.js"

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
  /**
   * The workflow's fiber exited: a call still without its answer (or a stream still open) ends with the error that
   * exit means (see `exitError`: 499 only when the caller stopped it). A no-op after a normal end or an error.
   */
  readonly settle: (exit: Exit.Exit<unknown, CallFailure>, stoppedBy: StoppedBy | undefined) => void
}

/**
 * 1. `reject` (nothing sent yet) → SollolError with the status errorResponse gives that error;
 * 2. `start` with status ≥ 400 → the body is collected and becomes a SollolError with the node's text;
 * 3. streaming: `start` resolves with the iterable; chunks are parsed line by line; `fail` (the node broke the
 *    stream after its first byte) ends it with a 502, as `connect()` reports the gateway's final error line;
 * 4. otherwise the whole body is parsed at `end`.
 * The first error wins: what `settle` adds when the fiber exits never replaces it.
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
  /** The call has its outcome: an answer, an error, or a stream that ended or failed. */
  let finished = false
  const chunks: Array<Uint8Array> = []
  const parser = makeLineParser((value) => {
    const error = streamedError(value)
    if (error !== undefined) failWith(new SollolError({ status: 502, message: error, ...(requestId ? { requestId } : {}) }))
    else channel.push(value)
  })
  const streaming = () => stream && status < 300
  const failWith = (error: SollolError) => {
    finished = true
    return streaming() ? channel.fail(error) : reject(error)
  }

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
        finished = true
        return channel.end()
      }
      finished = true
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
      finished = true
      reject(gatewayError(error, requestIdOf(headers)))
      return errorResponse(error).status
    }
  }
  const settle = (exit: Exit.Exit<unknown, CallFailure>, stoppedBy: StoppedBy | undefined) => {
    if (finished) return
    const error = exitError(exit, stoppedBy, requestId)
    finished = true
    reject(error)
    channel.fail(error)
  }
  return { sink, result, settle }
}
