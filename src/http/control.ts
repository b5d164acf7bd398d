/**
 * SOLLOL's own control plane, as an @effect/platform router mounted in the gateway's node:http server:
 * health and readiness, node membership (add, drain, include, remove), stats, the decision log and the event
 * stream. Services are resolved when the router is built, never per request.
 */
// module paths, not the package index: the index loads every platform module at startup
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Option, Schema, Stream } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import { NodeId, nodeIdFromUrl, normalizeBaseUrl } from "../domain/NodeId.js"
import { encoder, stringifyJson } from "../domain/json.js"
import { AdmissionTag } from "../runtime/Admission.js"
import { LiveStats } from "../observability/LiveStats.js"
import { DecisionLog } from "../runtime/DecisionLog.js"
import type { UpstreamFactory } from "../runtime/Sollol.js"
import { isNodeUrl } from "../AppConfig.js"

const error = (status: number, message: string) => HttpServerResponse.unsafeJson({ error: message }, { status })

const AddNode = Schema.Struct({
  url: Schema.String.pipe(Schema.filter(isNodeUrl, { message: () => "url must be an http(s) URL without query, fragment or credentials" })),
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  slots: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
const NodeAction = Schema.Struct({ node: Schema.String, action: Schema.Literal("drain", "include") })
const NodeBody = Schema.Union(AddNode, NodeAction)

export interface ControlOptions {
  readonly upstreamFactory: UpstreamFactory
  /** True once shutdown began: readiness turns false. */
  readonly shuttingDown: () => boolean
}

/** A base URL as registered (`normalizeBaseUrl`: scheme and host lower-cased, default port and trailing slash dropped). */
const canonicalUrl = (url: string) => {
  try {
    return normalizeBaseUrl(url)
  } catch {
    return url
  }
}

const sse = (event: string, data: unknown) => encoder.encode(`event: ${event}\ndata: ${stringifyJson(data)}\n\n`)

export const makeControlRouter = (options: ControlOptions) =>
  Effect.gen(function*() {
    const registry = yield* NodeRegistry
    const decisions = yield* DecisionLog
    const admission = yield* AdmissionTag
    // one add at a time, so that two requests for the same URL cannot both pass the duplicate check
    const adding = yield* Effect.makeSemaphore(1)
    /** Summaries and alerts, when the gateway installed observability. */
    const live = yield* Effect.serviceOption(LiveStats)

    const healthz = Effect.map(registry.routableCount, (routable) =>
      HttpServerResponse.unsafeJson(
        { status: routable > 0 ? "ok" : "unavailable", routable_nodes: routable },
        { status: routable > 0 ? 200 : 503 }
      ))

    const readyz = Effect.map(registry.routableCount, (routable) => {
      const ready = routable > 0 && !options.shuttingDown()
      return HttpServerResponse.unsafeJson({ ready, routable_nodes: routable }, { status: ready ? 200 : 503 })
    })

    const nodes = Effect.map(registry.list, (list) => HttpServerResponse.unsafeJson({ nodes: list }))

    const postNode = Effect.gen(function*() {
      // the body is already within limits.maxBodyBytes: the gateway read it (`limitedBody`)
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* Effect.either(request.json)
      if (Either.isLeft(body)) return error(400, "invalid JSON body")
      // exactly one shape: a drain that also carries a url must not register a node
      const parsed = Schema.decodeUnknownEither(NodeBody, { onExcessProperty: "error" })(body.right)
      if (Either.isLeft(parsed)) return error(400, `invalid request: expected {url, name?, slots?} or {node, action}`)
      const input = parsed.right
      if ("action" in input) {
        const id = NodeId(input.node)
        const done = yield* Effect.either(input.action === "drain" ? registry.drain(id) : registry.include(id))
        return Either.isLeft(done) ? error(404, done.left.message) : HttpServerResponse.unsafeJson({ node: id, action: input.action })
      }
      const nodeId = input.name !== undefined ? NodeId(input.name) : nodeIdFromUrl(input.url)
      const url = normalizeBaseUrl(input.url)
      const added = yield* adding.withPermits(1)(Effect.gen(function*() {
        // one physical node registered twice would count its slots twice
        const same = (yield* registry.list).find((v) => canonicalUrl(v.url) === url)
        if (same !== undefined) return Either.left(`node ${url} is already registered as ${same.nodeId}`)
        return Either.mapLeft(
          yield* Effect.either(registry.add({
            nodeId,
            url,
            ...(input.slots !== undefined ? { slots: input.slots } : {}),
            makeUpstream: options.upstreamFactory(nodeId, url)
          })),
          (e) => e.message
        )
      }))
      if (Either.isLeft(added)) return error(409, added.left)
      const view = (yield* registry.list).find((v) => v.nodeId === nodeId)
      return HttpServerResponse.unsafeJson({ node: view }, { status: 201 })
    })

    const deleteNode = Effect.gen(function*() {
      const query = yield* HttpServerRequest.ParsedSearchParams
      const node = query["node"]
      if (typeof node !== "string" || node === "") return error(400, "missing ?node=<id>")
      const removed = yield* Effect.either(registry.remove(NodeId(node)))
      return Either.isLeft(removed) ? error(404, removed.left.message) : HttpServerResponse.unsafeJson({ removed: node })
    })

    const stats = Effect.gen(function*() {
      const totals = yield* decisions.totals
      const list = yield* registry.list
      return HttpServerResponse.unsafeJson({
        requests: totals.all,
        by_node: totals.byNode,
        by_model: totals.byModel,
        queue: { depth: yield* admission.depth, by_priority: yield* admission.stats },
        nodes: list.map((v) => ({
          node: v.nodeId,
          health: v.health,
          in_flight: v.inFlight,
          slots: v.slots,
          ewma_ms: v.ewmaMs,
          loaded: v.loaded.map((l) => l.name)
        }))
      })
    })

    const recent = Effect.gen(function*() {
      const query = yield* HttpServerRequest.ParsedSearchParams
      const limit = Math.min(1_000, Math.max(1, Number(query["limit"] ?? 100) || 100))
      return HttpServerResponse.unsafeJson({ decisions: yield* decisions.recent(limit) })
    })

    const oneDecision = Effect.gen(function*() {
      const params = yield* HttpRouter.params
      const found = yield* decisions.get(params["requestId"] ?? "")
      return found === undefined ? error(404, "decision not found") : HttpServerResponse.unsafeJson(found)
    })

    const events = Effect.gen(function*() {
      const nodeEvents = registry.changes.pipe(Stream.map((e) => sse(e.type, e)))
      const decisionEvents = Stream.fromPubSub(decisions.pubsub).pipe(Stream.map((d) => sse("decision", d)))
      const snapshots = Stream.repeatEffectOption(
        Effect.map(registry.list, (list) => sse("nodes", { nodes: list })).pipe(Effect.delay("1 second"), Effect.mapError(Option.some))
      )
      const initial = Stream.fromEffect(Effect.map(registry.list, (list) => sse("nodes", { nodes: list })))
      const liveEvents = Option.match(live, {
        onNone: () => Stream.empty,
        onSome: (l) => l.events.pipe(Stream.map((e) => sse(e.event, e.data)))
      })
      const body = Stream.concat(
        initial,
        Stream.mergeAll([nodeEvents, decisionEvents, snapshots, liveEvents], { concurrency: 4 })
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      })
    })

    return HttpRouter.empty.pipe(
      HttpRouter.get("/healthz", healthz),
      HttpRouter.get("/readyz", readyz),
      HttpRouter.get("/api/sollol/nodes", nodes),
      HttpRouter.post("/api/sollol/nodes", postNode),
      HttpRouter.del("/api/sollol/nodes", deleteNode),
      HttpRouter.get("/api/sollol/stats", stats),
      HttpRouter.get("/api/sollol/decisions", recent),
      HttpRouter.get("/api/sollol/decisions/:requestId", oneDecision),
      HttpRouter.get("/api/sollol/events", events)
    )
  })
