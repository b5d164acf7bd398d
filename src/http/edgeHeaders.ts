/**
 * The X-SOLLOL-* headers of the responses the workflow does not build (DESIGN §1: every response carries them):
 * the gateway's own answers, merged and fanned-out routes, and requests refused before any node was asked.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { requestIdOf } from "../runtime/intent.js"

/** The request id (the client's `X-SOLLOL-Request-Id` when short and plain, as for inference) and 0 attempts. */
export const edgeHeaders = (req: IncomingMessage): Record<string, string> => {
  const given = req.headers["x-sollol-request-id"]
  return {
    "x-sollol-request-id": requestIdOf(typeof given === "string" ? given : undefined),
    "x-sollol-attempts": "0"
  }
}

/**
 * Sets `edgeHeaders` on `res` before its handler runs; a handler's own `writeHead` headers (a fan-out's attempts and
 * nodes) take precedence. Not used on the inference hot path, whose workflow sets its own.
 */
export const stampEdgeHeaders = (req: IncomingMessage, res: ServerResponse): void => {
  const headers = edgeHeaders(req)
  for (const name in headers) res.setHeader(name, headers[name]!)
}

/**
 * A fan-out's headers: every node asked counts as an attempt; `X-SOLLOL-Node` lists the nodes that answered (any
 * status), and is left out when none did, as the workflow leaves it out when no node answered.
 */
export const fanOutHeaders = (asked: number, answered: ReadonlyArray<string>): Record<string, string> =>
  answered.length === 0
    ? { "x-sollol-attempts": String(asked) }
    : { "x-sollol-attempts": String(asked), "x-sollol-node": answered.join(",") }
