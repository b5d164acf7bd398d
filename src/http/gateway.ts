/**
 * The gateway's request handler: one table from (method, path) to a handler. Inference routes take the plain
 * node:http hot path; merged, admin and control routes run as Effects; everything else is 404 or 405. Every response
 * but an inference one (whose workflow sets its own) gets its X-SOLLOL-* headers here, at the entry.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Readable } from "node:stream"
// the module, not the package index (which would load Effect's cluster, RPC and SQL packages at startup)
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Either, Fiber, Runtime } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import { AuthError, BadRequest, InternalError, NoCandidates, unservableError } from "../domain/errors.js"
import { normalizeModel } from "../domain/Model.js"
import type { RequestKind } from "../domain/Request.js"
import { decodePathSegment } from "../domain/urlPath.js"
import { DecisionLog, refusalRecord } from "../runtime/DecisionLog.js"
import type { DecisionRecord } from "../runtime/DecisionLog.js"
import { handle } from "../runtime/workflow.js"
import type { WorkflowServices } from "../runtime/workflow.js"
import { runAdmin } from "./admin.js"
import type { AdminOp } from "./admin.js"
import { runBatchEmbed } from "./batchEmbedRoute.js"
import { runBlob, runStatus } from "./blobs.js"
import { readBody } from "./body.js"
import { applyCors, isPreflight, preflightHeaders } from "./cors.js"
import type { OriginCheck } from "./cors.js"
import { makeControlRouter } from "./control.js"
import type { ControlOptions } from "./control.js"
import { fanOutHeaders, stampEdgeHeaders } from "./edgeHeaders.js"
import { routePermission } from "./auth.js"
import type { GatewayAuth } from "./auth.js"
import type { ErrorFlavor } from "./errorResponse.js"
import { makeInferenceHandler } from "./inference.js"
import type { InferenceDeps } from "./inference.js"
import { mergedPs, mergedTags, openAiModel_, openAiModels } from "./merged.js"
import type { Merged } from "./merged.js"
import { sendError, sendJson, whenClientLeaves } from "./nodeSink.js"
import { parseJsonObject, validateAdminBody } from "./validate.js"

/** The Ollama version this gateway reports (`GET /api/version`); clients only check it is a semver. */
export const OLLAMA_COMPAT_VERSION = "0.12.6"

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Route {
  readonly methods: Readonly<Record<string, Handler>>
  readonly flavor: ErrorFlavor
  /** An inference route: its POST answers carry the workflow's X-SOLLOL-* headers, not the entry's. */
  readonly routed?: true
}

const ROUTED: ReadonlyArray<readonly [string, RequestKind, ErrorFlavor]> = [
  ["/api/chat", "chat", "ollama"],
  ["/api/generate", "generate", "ollama"],
  ["/api/embed", "embed", "ollama"],
  ["/api/embeddings", "embeddings", "ollama"],
  ["/api/show", "show", "ollama"],
  ["/v1/chat/completions", "openai-chat", "openai"],
  ["/v1/completions", "openai-completions", "openai"],
  ["/v1/embeddings", "openai-embeddings", "openai"]
]

const ADMIN: ReadonlyArray<readonly [string, string, AdminOp]> = [
  ["/api/pull", "POST", "pull"],
  ["/api/push", "POST", "push"],
  ["/api/create", "POST", "create"],
  ["/api/copy", "POST", "copy"],
  ["/api/delete", "DELETE", "delete"]
]

export interface GatewayOptions extends ControlOptions {
  readonly maxBodyBytes: number
  /** Extra control-plane handlers by exact path (metrics, dashboard), GET only. */
  readonly extraGet?: Readonly<Record<string, Handler>>
  readonly authorize?: InferenceDeps["authorize"]
  /** Checks every non-inference route's permission (`routePermission`) before its handler; undefined when auth is off. */
  readonly authorizeRoute?: GatewayAuth["authorizeRoute"]
  /** Synchronous "is auth on now" for the inference hot path (see `GatewayAuth.active`). */
  readonly authActive?: GatewayAuth["active"]
  /** Serves `/api/sollol/admin/keys` (GET, POST) and `/api/sollol/admin/keys/:id` (DELETE). */
  readonly keysHandler?: Handler
  readonly track: (res: ServerResponse) => void
  readonly cutOnShutdown?: InferenceDeps["cutOnShutdown"]
  /** Refuses a request whose `Host` is not allowed (`makeHostGuard`); undefined: every `Host` is accepted. */
  readonly hostGuard?: (req: IncomingMessage) => boolean
  /** Whether the request's `Origin` may call the gateway (see cors.ts); every origin when absent. */
  readonly originCheck?: OriginCheck
}

export const makeGatewayHandler = (options: GatewayOptions) =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<WorkflowServices>()
    const runFork = Runtime.runFork(runtime)
    const clock = yield* Effect.clock
    const decisions = yield* DecisionLog
    const run: InferenceDeps["run"] = (intent, sink, batch) => {
      const arrived = { ...intent, arrivedAt: clock.unsafeCurrentTimeMillis() }
      const work: Effect.Effect<DecisionRecord | void, never, WorkflowServices> = batch !== undefined
        ? Effect.asVoid(runBatchEmbed(batch, arrived, sink))
        : handle(arrived, sink)
      return runFork(work)
    }
    const deps: InferenceDeps = {
      maxBodyBytes: options.maxBodyBytes,
      run,
      runtime: runtime as Runtime.Runtime<never>,
      track: options.track,
      ...(options.cutOnShutdown !== undefined ? { cutOnShutdown: options.cutOnShutdown } : {}),
      ...(options.authorize !== undefined ? { authorize: options.authorize } : {}),
      ...(options.authActive !== undefined ? { authActive: options.authActive } : {}),
      refused: (refusal) => void runFork(decisions.record(refusalRecord({ ...refusal, at: clock.unsafeCurrentTimeMillis() })))
    }
    const control = yield* NodeHttpServer.makeHandler(yield* makeControlRouter(options))

    /** A merged answer; none at all (every node down, or none configured) is a 503, not an empty list. */
    const runJson = (effect: Effect.Effect<Merged<unknown>, never, WorkflowServices>, flavor: ErrorFlavor): Handler => (_req, res) => {
      runFork(Effect.map(effect, (m) => {
        const headers = fanOutHeaders(m.asked, m.answered)
        if (m.answered.length > 0) return sendJson(res, 200, m.body, headers)
        sendError(res, new NoCandidates({ model: "", reason: m.asked === 0 ? "NoNodes" : "NoAnswer" }), flavor, headers)
      }))
    }
    const untilClientLeaves = (res: ServerResponse, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
      whenClientLeaves(res, () => runFork(Fiber.interrupt(fiber)))
    const admin = (op: AdminOp): Handler => (req, res) =>
      readBody(req, options.maxBodyBytes, (tooLarge, raw) => {
        if (tooLarge !== undefined) return sendError(res, tooLarge, "ollama")
        const parsed = Either.flatMap(parseJsonObject(raw), (body) => validateAdminBody(op, body))
        if (Either.isLeft(parsed)) return sendError(res, parsed.left, "ollama")
        const only = new URL(req.url ?? "/", "http://gateway").searchParams.get("node") ?? undefined
        untilClientLeaves(res, runFork(runAdmin(op, res, req.method ?? "POST", parsed.right, raw, only)))
      })
    const blob: Handler = (req, res) => {
      const url = new URL(req.url ?? "/", "http://gateway")
      untilClientLeaves(res, runFork(runBlob(req, res, url.pathname.slice("/api/blobs/".length), url.searchParams.get("node") ?? undefined)))
    }
    const text = (body: string): Handler => (req, res) => {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) })
      res.end(req.method === "HEAD" ? undefined : body)
    }
    const version: Handler = (req, res) =>
      req.method === "HEAD" ? void res.writeHead(200).end() : sendJson(res, 200, { version: OLLAMA_COMPAT_VERSION })
    const controlHandler: Handler = control

    const routes = new Map<string, Route>()
    for (const [path, kind, flavor] of ROUTED) {
      const handler = makeInferenceHandler({ kind, flavor, upstreamPath: path }, deps)
      routes.set(path, { methods: { POST: handler }, flavor, routed: true })
    }
    for (const [path, method, op] of ADMIN) routes.set(path, { methods: { [method]: admin(op) }, flavor: "ollama" })
    routes.set("/", { methods: { GET: text("Ollama is running"), HEAD: text("Ollama is running") }, flavor: "ollama" })
    routes.set("/api/version", { methods: { GET: version, HEAD: version }, flavor: "ollama" })
    routes.set("/api/status", { methods: { GET: (_req, res) => void runFork(runStatus(res)) }, flavor: "ollama" })
    routes.set("/api/tags", { methods: { GET: runJson(mergedTags, "ollama"), HEAD: runJson(mergedTags, "ollama") }, flavor: "ollama" })
    routes.set("/api/ps", { methods: { GET: runJson(mergedPs, "ollama") }, flavor: "ollama" })
    routes.set("/v1/models", { methods: { GET: runJson(openAiModels, "openai") }, flavor: "openai" })
    for (const path of ["/healthz", "/readyz", "/api/sollol/stats", "/api/sollol/decisions", "/api/sollol/events"]) {
      routes.set(path, { methods: { GET: controlHandler }, flavor: "ollama" })
    }
    /**
     * A control route's body, read here under `limits.maxBodyBytes` as the inference routes read theirs (413, and
     * the rest drained, also for a chunked body), then handed to the router from memory.
     */
    const limitedBody = (handler: Handler): Handler => (req, res) =>
      readBody(req, options.maxBodyBytes, (tooLarge, raw) => {
        if (tooLarge !== undefined) return sendError(res, tooLarge, "ollama", { connection: "close" })
        handler(replayed(req, raw), res)
      })
    routes.set("/api/sollol/nodes", {
      methods: { GET: controlHandler, POST: limitedBody(controlHandler), DELETE: controlHandler },
      flavor: "ollama"
    })
    for (const [path, h] of Object.entries(options.extraGet ?? {})) routes.set(path, { methods: { GET: h }, flavor: "ollama" })
    const keysHandler = options.keysHandler
    const { hostGuard, originCheck } = options
    if (keysHandler !== undefined) {
      routes.set("/api/sollol/admin/keys", { methods: { GET: keysHandler, POST: limitedBody(keysHandler) }, flavor: "ollama" })
    }

    /**
     * `GET /v1/models/{model}`: 404 only when every node listed its models and none has it; a node that did not
     * answer might have it, so that is a 503, as for a routed request (`unservableError`).
     */
    const modelRetrieve: Handler = (req, res) => {
      const model = decodePathSegment((req.url ?? "").split("?")[0]!.slice("/v1/models/".length))
      if (model === undefined) {
        return sendError(res, new BadRequest({ reason: "Url", message: "invalid URL escape in the model name" }), "openai")
      }
      runFork(Effect.gen(function*() {
        const m = yield* openAiModel_(model)
        const headers = fanOutHeaders(m.asked, m.answered)
        if (m.body !== undefined) return sendJson(res, 200, m.body, headers)
        const name = normalizeModel(model)
        if (m.asked === 0 || m.answered.length === 0) {
          return sendError(res, new NoCandidates({ model: name, reason: m.asked === 0 ? "NoNodes" : "NoAnswer" }), "openai", headers)
        }
        // a node that did not answer now: judged by its last known list, as a routed request would be
        const { hasModel, routable, unlisted } = yield* (yield* NodeRegistry).candidates(name)
        const why = unservableError({ model: name, kind: "openai-chat" }, { hasModel: hasModel.length, unlisted, routable }, false)
        if (why._tag === "NoCandidates") return sendError(res, why, "openai", headers)
        const error = { message: `model '${model}' not found`, type: "not_found_error", param: null, code: null }
        sendJson(res, 404, { error }, headers)
      }))
    }

    /** Runs `handler` once the route's permission is granted (straight away when auth is off or the route is open). */
    const authorizeRoute = options.authorizeRoute
    const guarded = (path: string, flavor: ErrorFlavor, handler: Handler, req: IncomingMessage, res: ServerResponse) => {
      const permission = authorizeRoute === undefined ? undefined : routePermission(req.method ?? "GET", path)
      if (authorizeRoute === undefined || permission === undefined) return handler(req, res)
      runFork(Effect.matchEffect(authorizeRoute(req, permission), {
        onFailure: (e) => Effect.sync(() => sendError(res, e, flavor)),
        onSuccess: () => Effect.sync(() => handler(req, res))
      }))
    }

    const dispatchRequest = (req: IncomingMessage, res: ServerResponse): void => {
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const path = q >= 0 ? url.slice(0, q) : url
      const route = routes.get(path)
      if (route?.routed !== true || req.method !== "POST") stampEdgeHeaders(req, res)
      if (hostGuard !== undefined && !hostGuard(req)) {
        const message = `host '${req.headers.host ?? ""}' is not allowed: the gateway listens on loopback and accepts ` +
          "local host names only (see limits.allowedHosts)"
        return sendError(res, new AuthError({ reason: "Forbidden", message }), path.startsWith("/v1/") ? "openai" : "ollama")
      }
      if (originCheck !== undefined && !originCheck(req)) {
        const message = `origin '${req.headers.origin ?? ""}' is not allowed (see limits.allowedOrigins)`
        return sendError(res, new AuthError({ reason: "Forbidden", message }), path.startsWith("/v1/") ? "openai" : "ollama")
      }
      applyCors(req, res)
      if (isPreflight(req)) {
        preflightHeaders(req, res)
        return void res.writeHead(204).end()
      }
      if (route === undefined) {
        if (path.startsWith("/v1/models/")) {
          if (req.method === "GET") return guarded(path, "openai", modelRetrieve, req, res)
          return sendError(res, new BadRequest({ reason: "Method", message: "405 method not allowed" }), "openai", { allow: "GET" })
        }
        if (path.startsWith("/api/sollol/decisions/") && (req.method === "GET" || req.method === "HEAD")) {
          req.method = "GET" // HEAD as GET: node:http leaves the body out
          return guarded(path, "ollama", controlHandler, req, res)
        }
        if (path.startsWith("/api/blobs/") && path.length > "/api/blobs/".length) {
          if (req.method !== "HEAD" && req.method !== "POST") {
            return sendError(res, new BadRequest({ reason: "Method", message: "405 method not allowed" }), "ollama", { allow: "HEAD, POST" })
          }
          return guarded(path, "ollama", blob, req, res)
        }
        if (keysHandler !== undefined && path.startsWith("/api/sollol/admin/keys/") && req.method === "DELETE") {
          return guarded(path, "ollama", keysHandler, req, res)
        }
        return sendError(res, new BadRequest({ reason: "Path", message: "404 page not found" }), path.startsWith("/v1/") ? "openai" : "ollama")
      }
      // SOLLOL's own GET routes answer HEAD too (uptime checkers probe with it); node:http leaves the body out.
      // Ollama's routes keep Ollama's method table.
      if (req.method === "HEAD" && route.methods.HEAD === undefined && route.methods.GET !== undefined && isOwnPath(path)) {
        // an event stream never ends, and node:http sends a HEAD answer's head only at its end: the head alone
        if (path === "/api/sollol/events") {
          return void res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" }).end()
        }
        req.method = "GET"
      }
      const handler = route.methods[req.method ?? "GET"]
      if (handler === undefined) {
        return sendError(res, new BadRequest({ reason: "Method", message: "405 method not allowed" }), route.flavor, {
          allow: Object.keys(route.methods).join(", ")
        })
      }
      guarded(path, route.flavor, handler, req, res)
    }

    return answeringDefects(dispatchRequest, (url, message) => {
      runFork(Effect.logError("request handler failed", { url, error: message }))
    })
  })

/** `req` with its body already read: the same head, and `body` as the stream a handler reads. */
const replayed = (req: IncomingMessage, body: Buffer): IncomingMessage =>
  Object.assign(Readable.from(body.length > 0 ? [body] : [], { objectMode: false }), {
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    socket: req.socket,
    connection: req.socket
  }) as unknown as IncomingMessage

/** SOLLOL's own routes, beside the Ollama and OpenAI ones it mirrors. */
const isOwnPath = (path: string): boolean =>
  path.startsWith("/api/sollol/") || path === "/healthz" || path === "/readyz" || path === "/metrics" || path === "/dashboard"

/** A defect thrown while routing still gets an answer (a 500, or a cut if bytes were sent), never a hang. */
export const answeringDefects = (
  handler: Handler,
  log: (url: string, message: string) => void
): Handler => (req, res) => {
  try {
    handler(req, res)
  } catch (error) {
    const message = `internal error: ${error instanceof Error ? error.message : String(error)}`
    log(req.url ?? "/", message)
    if (res.headersSent) return void res.destroy()
    sendError(res, new InternalError({ message }), (req.url ?? "").startsWith("/v1/") ? "openai" : "ollama")
  }
}
