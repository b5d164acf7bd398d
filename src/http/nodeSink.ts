/** A ClientSink over a node:http response: the gateway's side of the byte path. */
import type { ServerResponse } from "node:http"
import type { ClientSink } from "../runtime/ClientSink.js"
import { errorResponse, sseErrorEvent, streamErrorLine } from "./errorResponse.js"
import type { ErrorFlavor } from "./errorResponse.js"

const LF = 0x0a

/**
 * What must precede an error line or event so that it stands on its own: a node cut mid-line leaves a partial
 * line, which must be ended first (and for SSE its event too), or the error would be glued onto it and unreadable.
 */
const boundaryAfter = (framing: ClientSink["framing"], last: number, beforeLast: number): string => {
  if (last === -1) return ""
  if (framing !== "sse") return last === LF ? "" : "\n"
  return last !== LF ? "\n\n" : beforeLast !== LF ? "\n" : ""
}

/** A sink the gateway can cut: `cut(reason)` marks it before the request's work is interrupted (see `cutReason`). */
export interface NodeSink extends ClientSink {
  readonly cut: (reason: string) => void
}

export const makeNodeSink = (res: ServerResponse, framing: ClientSink["framing"], flavor: ErrorFlavor): NodeSink => {
  // the last two bytes passed through (-1: none yet), for `fail`
  let last = -1
  let beforeLast = -1
  let cutFor: string | undefined
  return {
    framing,
    cut: (reason) => void (cutFor = reason),
    cutReason: () => cutFor,
    start: (status, headers) => {
      if (!res.headersSent) res.writeHead(status, headers)
    },
    write: (chunk) => {
      // after a cut (shutdown) the answer is over: a late chunk must not be written after its end
      if (res.writableEnded) return true
      const n = chunk.length
      if (n > 0) {
        beforeLast = n > 1 ? chunk[n - 2]! : last
        last = chunk[n - 1]!
      }
      return res.write(chunk)
    },
    onDrain: (resume) => void res.once("drain", resume),
    end: (body) => {
      if (body === undefined) res.end()
      else res.end(body)
    },
    fail: (message) => {
      if (res.writableEnded) return
      const error = framing === "sse" ? sseErrorEvent(message) : streamErrorLine(message)
      res.end(boundaryAfter(framing, last, beforeLast) + error)
    },
    reject: (error, headers) => {
      if (res.headersSent) {
        if (!res.writableEnded) res.end()
        return
      }
      const r = errorResponse(error, flavor)
      res.writeHead(r.status, { ...headers, ...r.headers })
      res.end(r.body)
      return r.status
    }
  }
}

/**
 * Runs `leave` once if the client goes before its answer is complete (at once when it is gone already): the work
 * for it is then stopped, which aborts its calls to the nodes.
 */
export const whenClientLeaves = (res: ServerResponse, leave: () => void): void => {
  const left = () => {
    if (!res.writableFinished) leave()
  }
  if (res.destroyed) return left()
  res.once("close", left)
}

/** Answers with an error before anything else was sent. */
export const sendError = (
  res: ServerResponse,
  error: Parameters<typeof errorResponse>[0],
  flavor: ErrorFlavor,
  headers: Record<string, string> = {}
) => {
  if (res.headersSent) return void res.end()
  const r = errorResponse(error, flavor)
  res.writeHead(r.status, { ...headers, ...r.headers })
  res.end(r.body)
}

export const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}
