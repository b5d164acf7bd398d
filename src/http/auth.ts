/**
 * Gateway authentication and authorisation: which permission each route needs, the key from the request headers,
 * whether auth is on (by `auth.mode` and, in `auto`, by whether any key exists), per-key limits and priority ceiling.
 */
import type { IncomingMessage } from "node:http"
import { Effect, Ref, Schedule } from "effect"
import type { Scope } from "effect"
import type { AuthError } from "../domain/errors.js"
import type { RequestKind } from "../domain/Request.js"
import { ApiKeys, clampPriority } from "../runtime/ApiKeys.js"
import type { KeyRecord, Permission } from "../runtime/ApiKeys.js"
import { RateLimiter } from "../runtime/RateLimiter.js"

export type AuthMode = "auto" | "required" | "off"

/** The permission an inference request needs, by kind. */
export const kindPermission = (kind: RequestKind): Permission => {
  switch (kind) {
    case "chat":
    case "openai-chat":
      return "chat"
    case "generate":
    case "openai-completions":
      return "generate"
    case "embed":
    case "embeddings":
    case "openai-embeddings":
      return "embed"
    case "show":
      return "models"
  }
}

const STATS_PATHS = new Set([
  "/api/sollol/stats",
  "/api/sollol/decisions",
  "/api/sollol/events",
  "/metrics",
  "/dashboard"
])
const MODELS_PATHS = new Set(["/api/tags", "/api/ps", "/v1/models"])

const OPEN_PATHS = new Set(["/", "/api/version", "/api/status", "/healthz", "/readyz"])
/** Checked by `authorize` with the request's model once the body is read. */
const INFERENCE_PATHS = new Set([
  "/api/chat",
  "/api/generate",
  "/api/embed",
  "/api/embeddings",
  "/api/show",
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings"
])

/**
 * The permission a route needs when auth is on; `undefined` for the open routes (`/`, `/api/version`, `/healthz`,
 * `/readyz`) and for inference routes (their own check). Any other route not listed here needs `admin`: a route
 * added later is closed until someone gives it a permission.
 */
export const routePermission = (method: string, path: string): Permission | undefined => {
  if (OPEN_PATHS.has(path) || INFERENCE_PATHS.has(path)) return undefined
  if (MODELS_PATHS.has(path) || path.startsWith("/v1/models/")) return "models"
  if (STATS_PATHS.has(path) || path.startsWith("/api/sollol/decisions/")) return "stats"
  if (path === "/api/sollol/nodes") return method === "GET" || method === "HEAD" ? "stats" : "admin"
  return "admin"
}

/** The key from `Authorization: Bearer …` (what the openai and ollama clients send), else from `X-API-Key`. */
export const tokenOf = (req: IncomingMessage): string | undefined => {
  const header = req.headers.authorization
  if (header !== undefined) {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header)
    if (match?.[1] !== undefined) return match[1]
  }
  const apiKey = req.headers["x-api-key"]
  return typeof apiKey === "string" ? apiKey : undefined
}

export interface Authorized {
  /** The priority to route with: the asked one lowered to the key's ceiling. */
  readonly priority: number
  /** Charges the request's output tokens to the key's tokens-per-minute bucket. */
  readonly done: (outputTokens: number) => Effect.Effect<void>
  /** The key holds `batch`: a large `/api/embed` input may be split across the cluster. */
  readonly batch: boolean
}

export interface GatewayAuth {
  /** Whether requests are checked right now (in `auto`, turns on with the first key and stays on). */
  readonly enabled: Effect.Effect<boolean>
  /**
   * The last known answer of `enabled`, synchronously, for the inference hot path: while it is false the request
   * skips the auth step entirely. In `auto` it is refreshed every second, so a key created by another process
   * takes effect within a second.
   */
  readonly active: () => boolean
  /** A key was created in this process: auth (in `auto`) is on from the next request. */
  readonly keyCreated: Effect.Effect<void>
  /**
   * For inference: authenticate, check the kind's permission and the model allow-list, take one request and the
   * prompt's tokens from the key's limits, and clamp the priority. Passes everything through when auth is off.
   */
  readonly authorize: (
    req: IncomingMessage,
    kind: RequestKind,
    model: string,
    priority: number,
    promptTokens: number
  ) => Effect.Effect<Authorized, AuthError>
  /** For every other route: authenticate and check `permission`. */
  readonly authorizeRoute: (req: IncomingMessage, permission: Permission) => Effect.Effect<void, AuthError>
}

const pass = (priority: number): Authorized => ({ priority, done: () => Effect.void, batch: true })

/**
 * Needs `ApiKeys` and `RateLimiter`. In `auto`, the key count is read from the store on each request until it is
 * above zero (a `COUNT(*)` on an empty table), then auth stays on: keys are revoked, never deleted, so the count
 * never falls back, and a key created by `sollol keys create` while the gateway runs takes effect on the next request.
 */
export const makeGatewayAuth = (mode: AuthMode): Effect.Effect<GatewayAuth, never, ApiKeys | RateLimiter | Scope.Scope> =>
  Effect.gen(function*() {
    const keys = yield* ApiKeys
    const limiter = yield* RateLimiter
    const on = yield* Ref.make(mode === "required")
    // Mirrors `on` for synchronous readers; it only ever goes from false to true.
    let known = mode === "required"
    const enabled: Effect.Effect<boolean> = mode === "off" ? Effect.succeed(false) : Effect.flatMap(
      Ref.get(on),
      (isOn) =>
        isOn ? Effect.succeed(true) : Effect.flatMap(Effect.orDie(keys.count), (n) =>
          n > 0
            ? Effect.as(Effect.zipRight(Ref.set(on, true), Effect.sync(() => (known = true))), true)
            : Effect.succeed(false))
    )
    if (mode === "auto") {
      yield* enabled.pipe(Effect.repeat({ schedule: Schedule.spaced("1 second"), until: (isOn) => isOn }), Effect.forkScoped)
    }

    const authenticate = (req: IncomingMessage): Effect.Effect<KeyRecord, AuthError> =>
      keys.authenticate(tokenOf(req))

    const authorize: GatewayAuth["authorize"] = (req, kind, model, priority, promptTokens) =>
      Effect.flatMap(enabled, (isOn) =>
        !isOn ? Effect.succeed(pass(priority)) : Effect.gen(function*() {
          const record = yield* authenticate(req)
          yield* keys.authorize(record, kindPermission(kind), model === "" ? undefined : model)
          yield* limiter.take(record.id, { rpm: record.rpm, tpm: record.tpm }, { requests: 1, tokens: promptTokens })
          return {
            priority: clampPriority(record, priority),
            done: (outputTokens: number) => limiter.commitTokens(record.id, record.tpm, outputTokens),
            batch: record.permissions.includes("batch")
          }
        }))

    const authorizeRoute: GatewayAuth["authorizeRoute"] = (req, permission) =>
      Effect.flatMap(enabled, (isOn) =>
        !isOn ? Effect.void : Effect.flatMap(authenticate(req), (record) => keys.authorize(record, permission)))

    const keyCreated = mode === "auto" ? Effect.asVoid(enabled) : Effect.void
    return { enabled, active: () => known, keyCreated, authorize, authorizeRoute }
  })

