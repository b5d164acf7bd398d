/** CORS as Ollama does it: browsers on local origins (and app/extension schemes) may call the API. */
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

export const applyCors = (req: IncomingMessage, res: ServerResponse): void => {
  const origin = req.headers.origin
  if (origin === undefined || !LOCAL_ORIGIN.test(origin)) return
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
