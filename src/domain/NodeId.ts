/** A node's identity: a name given in config, else the `host:port` of its URL. */
import { Brand } from "effect"

export type NodeId = string & Brand.Brand<"NodeId">
export const NodeId = Brand.nominal<NodeId>()

/** `http://gpu-1:11434/` → `gpu-1:11434` (the default port of the scheme is made explicit). */
export const nodeIdFromUrl = (url: string): NodeId => {
  const u = new URL(url)
  const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80"
  return NodeId(`${u.hostname}:${port}`)
}

/** Trims a base URL to `scheme://host:port` without a trailing slash. */
export const normalizeBaseUrl = (url: string): string => {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`
}
