/**
 * CORS as Ollama does it: browsers on local origins (and app/extension schemes, and `limits.allowedOrigins`) may
 * call the API; any other origin gets 403 before the route runs. Auth is off by default on loopback, so without
 * this a web page could drive the admin routes with a "simple" cross-origin POST that needs no preflight.
 */
import type { IncomingMessage, ServerResponse } from "node:http"

const LOCAL_ORIGIN = /^(https?:\/\/(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(:\d+)?|(app|file|tauri|vscode-webview|vscode-file):\/\/.*)$/

const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "User-Agent",
  "Accept",
  "X-Requested-With",
  "X-API-Key",
  "X-SOLLOL-Priority",
  "X-SOLLOL-Request-Id",
  "OpenAI-Beta",
  "x-stainless-os",
  "x-stainless-lang",
  "x-stainless-package-version",
  "x-stainless-runtime",
  "x-stainless-runtime-version",
  "x-stainless-arch",
  "x-stainless-retry-count",
  "x-stainless-timeout"
].join(", ")

/** An `allowedOrigins` entry as a test: `*` any, `https://*.corp.example` a domain's subdomains, else exact. */
const originPattern = (entry: string): ((origin: string) => boolean) => {
  if (entry === "*") return () => true
  const star = entry.indexOf("*")
  if (star < 0) return (origin) => origin === entry
  const head = entry.slice(0, star)
  const tail = entry.slice(star + 1)
  return (origin) => origin.length > entry.length - 1 && origin.startsWith(head) && origin.endsWith(tail)
}

/**
 * Which browser origins may call the gateway, as Ollama's CORS middleware decides (gin-contrib/cors): the local
 * ones, app and extension schemes, `extra` (Ollama's OLLAMA_ORIGINS: `limits.allowedOrigins`), and a page of the
 * gateway's own origin. A request without `Origin` is not a browser's cross-origin call and always passes.
 */
export const makeOriginCheck = (extra: ReadonlyArray<string>) => {
  const patterns = extra.map(originPattern)
  return (req: IncomingMessage): boolean => {
    const origin = req.headers.origin
    if (origin === undefined || LOCAL_ORIGIN.test(origin) || patterns.some((p) => p(origin))) return true
    const host = req.headers.host
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)
  }
}

export type OriginCheck = ReturnType<typeof makeOriginCheck>

/** The CORS answer headers for an allowed origin (the caller refuses the others first). */
export const applyCors = (req: IncomingMessage, res: ServerResponse): void => {
  const origin = req.headers.origin
  if (origin === undefined) return
  res.setHeader("access-control-allow-origin", origin)
  res.setHeader("vary", "Origin")
  res.setHeader("access-control-expose-headers", "X-SOLLOL-Request-Id, X-SOLLOL-Node, X-SOLLOL-Attempts")
}

export const isPreflight = (req: IncomingMessage): boolean => req.method === "OPTIONS"

/**
 * Every `x-stainless-*` header the browser asks for: Ollama allows them all, and openai-node adds new ones
 * (`x-stainless-helper-method` from `.stream()`, `.parse()` and `runTools()`, `x-stainless-poll-helper`, …).
 */
const stainlessAsked = (req: IncomingMessage): string => {
  const asked = req.headers["access-control-request-headers"]
  if (asked === undefined) return ""
  return asked.split(",").map((h) => h.trim()).filter((h) => /^x-stainless-[a-z0-9-]+$/i.test(h)).map((h) => `, ${h}`).join("")
}

/** Headers of a preflight answer (set before the 204 is written). */
export const preflightHeaders = (req: IncomingMessage, res: ServerResponse): void => {
  res.setHeader("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
  res.setHeader("access-control-allow-headers", ALLOWED_HEADERS + stainlessAsked(req))
  res.setHeader("access-control-max-age", "43200")
}
