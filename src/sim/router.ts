/** The route table of a simulated node: gin's exact-path routing with 404/405 text, body parsing per family. */
import { Effect } from "effect"
import type { UpstreamError } from "../domain/errors.js"
import { decodePathSegment } from "../domain/urlPath.js"
import * as blobs from "./blobRoutes.js"
import * as created from "./createRoutes.js"
import * as model from "./modelRoutes.js"
import * as native from "./nativeRoutes.js"
import * as openai from "./openaiRoutes.js"
import type { SimContext } from "./simContext.js"
import { methodNotAllowed, notFound, ollamaError, openaiError, parseBody, sendBody } from "./wire.js"
import type { Reply } from "./wire.js"

type Body = Record<string, unknown>

export interface Route {
  /** Runs the model engine (faults such as busy, 500 and truncate apply). */
  readonly inference: boolean
  /** Parses a JSON body first; bad JSON is a 400 in the route family's error shape. */
  readonly body: "native" | "openai" | undefined
  /** `raw`: the body as sent, for a route that takes no JSON (a blob upload). */
  readonly run: (ctx: SimContext, reply: Reply, body: Body, raw?: Uint8Array) => Effect.Effect<void, UpstreamError>
}

const text = (body: string) => (_: SimContext, reply: Reply) => sendBody(reply, 200, "text/plain; charset=utf-8", body)
const get = (run: Route["run"]): Route => ({ inference: false, body: undefined, run })
const post = (family: "native" | "openai", inference: boolean, run: Route["run"]): Route => ({ inference, body: family, run })

export const VERSION = "0.33.0"

const version = get((_, reply) => sendBody(reply, 200, "application/json; charset=utf-8", `{"version":"${VERSION}"}`))
const root = get(text("Ollama is running"))
const tags = get(model.tags)

const table: Readonly<Record<string, Readonly<Record<string, Route>>>> = {
  "/": { GET: root, HEAD: root },
  "/api/version": { GET: version, HEAD: version },
  "/api/tags": { GET: tags, HEAD: tags },
  "/api/ps": { GET: get(model.ps) },
  "/api/show": { POST: post("native", false, model.show) },
  "/api/pull": { POST: post("native", false, model.pull) },
  "/api/push": { POST: post("native", false, blobs.push) },
  "/api/status": { GET: get(blobs.status) },
  "/api/delete": { DELETE: post("native", false, model.remove) },
  "/api/copy": { POST: post("native", false, created.copy) },
  "/api/create": { POST: post("native", false, created.create) },
  "/api/chat": { POST: post("native", true, native.chat) },
  "/api/generate": { POST: post("native", true, native.generate) },
  "/api/embed": { POST: post("native", true, native.embed) },
  "/api/embeddings": { POST: post("native", true, native.embeddings) },
  "/v1/chat/completions": { POST: post("openai", true, openai.chatCompletions) },
  "/v1/completions": { POST: post("openai", true, openai.completions) },
  "/v1/embeddings": { POST: post("openai", true, openai.embeddings) },
  "/v1/models": { GET: get(openai.models) }
}

export type Resolved =
  | { readonly _tag: "Route"; readonly route: Route }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "MethodNotAllowed" }
  /** A request URI Go's `net/http` refuses before any handler runs (an invalid percent escape). */
  | { readonly _tag: "BadRequest" }

export const resolve = (method: string, path: string): Resolved => {
  const byMethod = table[path]
  if (byMethod === undefined) {
    if (path.startsWith("/v1/models/") && path.length > "/v1/models/".length) {
      const id = decodePathSegment(path.slice("/v1/models/".length))
      if (id === undefined) return { _tag: "BadRequest" }
      return method === "GET"
        ? { _tag: "Route", route: get((ctx, reply) => openai.retrieveModel(ctx, reply, id)) }
        : { _tag: "MethodNotAllowed" }
    }
    if (path.startsWith("/api/blobs/") && path.length > "/api/blobs/".length) {
      const digest = decodePathSegment(path.slice("/api/blobs/".length))
      if (digest === undefined) return { _tag: "BadRequest" }
      if (method === "HEAD") return { _tag: "Route", route: get((ctx, reply) => blobs.headBlob(ctx, reply, digest)) }
      if (method === "POST") return { _tag: "Route", route: get((ctx, reply, _body, raw) => blobs.createBlob(ctx, reply, digest, raw)) }
      return { _tag: "MethodNotAllowed" }
    }
    return { _tag: "NotFound" }
  }
  const route = byMethod[method]
  return route === undefined ? { _tag: "MethodNotAllowed" } : { _tag: "Route", route }
}

/** Parses the body if the route wants one, then runs it; answers 404/405/400 itself. */
export const dispatch = (ctx: SimContext, reply: Reply, resolved: Resolved, raw: Uint8Array | undefined) => {
  if (resolved._tag === "NotFound") return notFound(reply)
  if (resolved._tag === "MethodNotAllowed") return methodNotAllowed(reply)
  if (resolved._tag === "BadRequest") return sendBody(reply, 400, "text/plain; charset=utf-8", "400 Bad Request")
  const { route } = resolved
  if (route.body === undefined) return route.run(ctx, reply, {}, raw)
  const parsed = parseBody(raw)
  if (!parsed.ok) return route.body === "native" ? ollamaError(reply, 400, parsed.message) : openaiError(reply, 400, parsed.message)
  return route.run(ctx, reply, parsed.value)
}
