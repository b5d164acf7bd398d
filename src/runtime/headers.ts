/** Header hygiene for proxying: hop-by-hop headers never cross the gateway (RFC 9110 §7.6.1, Hono's proxy list). */
import type { IncomingHttpHeaders } from "node:http"

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length"
])

/** Client request headers → headers for the node: no hop-by-hop, no gateway-only or credential headers. */
export const forwardRequestHeaders = (headers: IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {}
  const connectionListed = listedInConnection(headers.connection)
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || connectionListed.has(name) || name.startsWith("x-sollol-")) continue
    if (name === "authorization" || name === "x-api-key" || name === "cookie") continue
    // the gateway judged the browser's origin itself; the call to the node is its own, not the browser's (a node
    // would refuse an origin it was not told of with 403, as Ollama refuses one outside OLLAMA_ORIGINS)
    if (name === "origin") continue
    const value = headers[name]
    if (value === undefined) continue
    out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  out["content-type"] = "application/json"
  return out
}

/** Node response headers → client response headers (hop-by-hop removed; length recomputed by node:http). */
export const forwardResponseHeaders = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  const connection = headers["connection"]
  const connectionListed = listedInConnection(typeof connection === "string" ? connection : undefined)
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || connectionListed.has(name)) continue
    const value = headers[name]
    if (value === undefined) continue
    out[name] = typeof value === "string" ? value : [...value]
  }
  return out
}

const NONE: ReadonlySet<string> = new Set()

/** Names a `Connection` header lists; the usual "keep-alive" lists nothing beyond the hop-by-hop set. */
const listedInConnection = (value: string | undefined): ReadonlySet<string> => {
  if (value === undefined || value === "keep-alive" || value === "") return NONE
  return new Set(value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== ""))
}
