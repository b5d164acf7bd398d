/** A ClientSink over a node:http response: the gateway's side of the byte path. */
import type { ServerResponse } from "node:http"
import type { ClientSink } from "../runtime/ClientSink.js"
import { errorResponse, sseErrorEvent, streamErrorLine } from "./errorResponse.js"
import type { ErrorFlavor } from "./errorResponse.js"

export const makeNodeSink = (res: ServerResponse, framing: ClientSink["framing"], flavor: ErrorFlavor): ClientSink => ({
  framing,
  start: (status, headers) => {
    if (!res.headersSent) res.writeHead(status, headers)
  },
  // after a cut (shutdown) the answer is over: a late chunk must not be written after its end
  write: (chunk) => res.writableEnded || res.write(chunk),
  onDrain: (resume) => void res.once("drain", resume),
  end: (last) => {
    if (last === undefined) res.end()
    else res.end(last)
  },
  fail: (message) => {
    if (!res.writableEnded) res.end(framing === "sse" ? sseErrorEvent(message) : streamErrorLine(message))
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
})

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
