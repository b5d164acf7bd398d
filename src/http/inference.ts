/**
 * The hot path: a plain node:http handler per routed endpoint. It reads and validates the body, reads the
 * priority, builds the intent and starts one workflow fiber; bytes flow from undici to `res` without Effect.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect, Either, Exit, Fiber, Runtime } from "effect"
import { BadRequest, ShuttingDown } from "../domain/errors.js"
import type { GatewayError } from "../domain/errors.js"
import { DEFAULT_PRIORITY, parsePriority } from "../domain/Priority.js"
import type { RequestKind, RoutingIntent } from "../domain/Request.js"
import type { ClientSink } from "../runtime/ClientSink.js"
import type { DecisionRecord, Refusal } from "../runtime/DecisionLog.js"
import { normalizeModel } from "../domain/Model.js"
import type { Authorized } from "./auth.js"
import { batchOf } from "./batchEmbedRoute.js"
import type { BatchRequest } from "./batchEmbedRoute.js"
import { forwardRequestHeaders } from "../runtime/headers.js"
import { makeIntent } from "../runtime/intent.js"
import { readBody } from "./body.js"
import { edgeHeaders } from "./edgeHeaders.js"
import { errorResponse, messageOf } from "./errorResponse.js"
import type { ErrorFlavor } from "./errorResponse.js"
import { makeNodeSink, sendError, whenClientLeaves } from "./nodeSink.js"
import { parseJsonObject, validateBody } from "./validate.js"

/** How a request cut at the shutdown deadline ends, for the client and in its record. */
const SHUTDOWN_CUT = "the gateway is shutting down"

export interface RoutedEndpoint {
  readonly kind: RequestKind
  readonly flavor: ErrorFlavor
  /** Path forwarded to the node. */
  readonly upstreamPath: string
}

/** What the hot path needs from the runtime, resolved once when the server starts. */
export interface InferenceDeps {
  readonly maxBodyBytes: number
  /**
   * Runs one request's workflow (stamping `arrivedAt`), or with `batch` the batch split across the cluster; the
   * fiber is interrupted if the client goes away. It ends with the request's decision record (none for a batch).
   */
  readonly run: (intent: RoutingIntent, sink: ClientSink, batch?: BatchRequest) => Fiber.RuntimeFiber<DecisionRecord | void, never>
  /** Authorises (and may clamp the priority of) a request; `undefined` when auth is off. */
  readonly authorize?: (
    req: IncomingMessage,
    kind: RequestKind,
    model: string,
    priority: number,
    promptTokens: number
  ) => Effect.Effect<Authorized, GatewayError>
  /** While false, requests skip `authorize` (auth is off); absent means "always ask `authorize`". */
  readonly authActive?: () => boolean
  readonly runtime: Runtime.Runtime<never>
  /** Counts requests in flight at the HTTP edge (for graceful shutdown). */
  readonly track: (res: ServerResponse) => void
  /** Registers how to cut a running request when shutdown reaches its deadline (see `makeTracker`). */
  readonly cutOnShutdown?: (res: ServerResponse, cut: () => Promise<void>) => void
  /** Records a request refused before any node was asked (decision log, metrics, request log); stamps `at`. */
  readonly refused?: (refusal: Omit<Refusal, "at">) => void
}

/** What a refusal knows of its request, by how far the request got. */
type Known = Pick<Refusal, "model" | "priority"> & Partial<Pick<Refusal, "taskType" | "complexity">>

/** A body's model as the workflow would name it; "" when it has none. */
const modelOf = (body: Record<string, unknown> | undefined): string =>
  typeof body?.["model"] === "string" ? normalizeModel(body["model"]) : ""

const badPriority = new BadRequest({ reason: "Field", message: "priority must be an integer between 1 and 10" })

/** Header first, then the body's top-level `priority` (always stripped before forwarding). */
const priorityOf = (req: IncomingMessage, body: Record<string, unknown>): Either.Either<number, BadRequest> => {
  const header = parsePriority(req.headers["x-sollol-priority"])
  const fromBody = parsePriority(body.priority)
  if (header === null || fromBody === null) return Either.left(badPriority)
  return Either.right(header ?? fromBody ?? DEFAULT_PRIORITY)
}

const framingOf = (kind: RequestKind, stream: boolean): ClientSink["framing"] =>
  !stream ? "json" : kind.startsWith("openai-") ? "sse" : "ndjson"

/**
 * The tokens to charge once a request ended: what the node reported generating; the estimate when that is unknown
 * (a client that left mid-stream, a batch); nothing for a request that failed without an answer.
 */
export const outputTokensOf = (exit: Exit.Exit<DecisionRecord | void>, expected: number): number => {
  if (Exit.isFailure(exit) || exit.value === undefined) return expected
  const decision = exit.value
  return decision.outputTokens ?? (decision.outcome === "ok" ? expected : 0)
}

export const makeInferenceHandler = (endpoint: RoutedEndpoint, deps: InferenceDeps) => {
  const runFork = Runtime.runFork(deps.runtime)
  /** Answers a refusal with `headers` (which name the request) and records it. */
  const refuse = (res: ServerResponse, error: GatewayError, headers: Record<string, string>, known: Known) => {
    sendError(res, error, endpoint.flavor, headers)
    deps.refused?.({
      ...known,
      requestId: headers["x-sollol-request-id"] ?? "",
      kind: endpoint.kind,
      status: errorResponse(error).status,
      error: messageOf(error)
    })
  }
  return (req: IncomingMessage, res: ServerResponse): void => {
    deps.track(res)
    readBody(req, deps.maxBodyBytes, (tooLarge, raw) => {
      // refused before any node was asked: the entry's X-SOLLOL-* headers, built only on these paths
      const unknown = { model: "", priority: DEFAULT_PRIORITY }
      if (tooLarge !== undefined) return refuse(res, tooLarge, { ...edgeHeaders(req), connection: "close" }, unknown)
      const parsed = Either.flatMap(parseJsonObject(raw), (body) => validateBody(endpoint.kind, body))
      if (Either.isLeft(parsed)) return refuse(res, parsed.left, edgeHeaders(req), unknown)
      const body = parsed.right
      const priority = priorityOf(req, body)
      if (Either.isLeft(priority)) return refuse(res, priority.left, edgeHeaders(req), { ...unknown, model: modelOf(body) })
      const changed = body.priority !== undefined || endpoint.kind === "show" && body.model === undefined
      if (body.priority !== undefined) delete body.priority
      const requestId = req.headers["x-sollol-request-id"]
      const intent = makeIntent({
        kind: endpoint.kind,
        body,
        priority: priority.right,
        arrivedAt: 0, // stamped from Effect's Clock when the workflow fiber starts
        path: endpoint.upstreamPath,
        headers: forwardRequestHeaders(req.headers),
        ...(changed ? {} : { raw }),
        ...(typeof requestId === "string" ? { requestId } : {})
      })
      const sink = makeNodeSink(res, framingOf(endpoint.kind, intent.stream), endpoint.flavor)
      const batch = batchOf(endpoint.kind, body, intent.model)
      /** `mayBatch`: the key holds the `batch` permission (or auth is off); else a batch goes whole to one node. */
      const start = (finalIntent: RoutingIntent, mayBatch = true) => {
        const fiber = deps.run(finalIntent, sink, mayBatch ? batch : undefined)
        whenClientLeaves(res, () => runFork(Fiber.interrupt(fiber)))
        // at the shutdown deadline: stop the work first (no byte follows), then end the answer explicitly
        deps.cutOnShutdown?.(res, () =>
          new Promise<void>((resolve) => {
            sink.cut(SHUTDOWN_CUT)
            runFork(Fiber.interrupt(fiber)).addObserver(() => {
              if (res.headersSent) sink.fail(SHUTDOWN_CUT)
              else sink.reject(new ShuttingDown(), { "x-sollol-request-id": finalIntent.requestId, "x-sollol-attempts": "0" })
              resolve()
            })
          }))
        return fiber
      }
      if (deps.authorize === undefined || deps.authActive?.() === false) return void start(intent)
      runFork(
        deps.authorize(req, endpoint.kind, intent.model, intent.priority, intent.promptTokens).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              Effect.sync(() =>
                refuse(res, error, { "x-sollol-request-id": intent.requestId, "x-sollol-attempts": "0" }, {
                  // a body without a valid key is not trusted with a name in the records (it could be anything)
                  model: error._tag === "AuthError" && error.reason !== "RateLimited" ? "" : intent.model,
                  priority: intent.priority,
                  taskType: intent.taskType,
                  complexity: intent.complexity
                })
              ),
            onSuccess: ({ batch: mayBatch, done, priority: clamped }) =>
              Effect.gen(function*() {
                const fiber = start(clamped === intent.priority ? intent : { ...intent, priority: clamped }, mayBatch)
                const exit = yield* Fiber.await(fiber)
                yield* done(outputTokensOf(exit, intent.expectedOutputTokens))
              })
          })
        )
      )
    })
  }
}
