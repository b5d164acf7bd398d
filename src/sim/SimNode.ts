/**
 * A simulated Ollama node: the engine behind both the HTTP server and the in-process upstream. `handle` serves
 * every route with Ollama's bytes; faults and statistics wrap it. Waits are `Effect.sleep(simMs / timeScale)`.
 */
import { Clock, Effect } from "effect"
import type { Scope } from "effect"
import { UpstreamError } from "../domain/errors.js"
import { normalizeModel } from "../domain/Model.js"
import { NodeId } from "../domain/NodeId.js"
import type { UpstreamRequest } from "../domain/Request.js"
import type { BodySink, UpstreamHead } from "../domain/Upstream.js"
import { makeEngine } from "./engine.js"
import type { SimTraceEvent } from "./engine.js"
import { faultFromJson, noFault } from "./faults.js"
import type { Fault } from "./faults.js"
import { profiles } from "./profiles.js"
import type { ProfileName, SimProfile } from "./profiles.js"
import { makeReply } from "./reply.js"
import { makeRng } from "./rng.js"
import { dispatch, resolve } from "./router.js"
import type { SimContext } from "./simContext.js"
import { bump } from "./stats.js"
import type { SimStats } from "./stats.js"
import { BUSY_MESSAGE, ollamaError, openaiError, parseBody, sendJson } from "./wire.js"
import type { Reply } from "./wire.js"

export interface SimNodeOptions {
  readonly name: string
  readonly profile: SimProfile | ProfileName
  /** Installed models (any name form); default: all of the profile's. */
  readonly models?: ReadonlyArray<string>
  /** Models loaded at start (they count as loaded, without load time). */
  readonly preload?: ReadonlyArray<string>
  /** Seed of the node's generator (output lengths, text, ids); default 1. */
  readonly seed?: number
  /** Divides every simulated wait; reported durations stay simulated. Default 1. */
  readonly timeScale?: number
  /** Fault at start; default none. */
  readonly fault?: Fault
  /** Called synchronously with every scheduling event (tests check laws with it). */
  readonly trace?: (event: SimTraceEvent) => void
}

export interface SimNode {
  readonly name: string
  readonly profile: SimProfile
  readonly timeScale: number
  /** One request, answered through `accept` exactly as Ollama would (see `Upstream.send`). */
  readonly handle: (request: UpstreamRequest, accept: (head: UpstreamHead) => BodySink) => Effect.Effect<void, UpstreamError>
  readonly setFault: (fault: Fault) => Effect.Effect<void>
  readonly fault: Effect.Effect<Fault>
  readonly stats: Effect.Effect<SimStats>
  /** Names of resident models. */
  readonly loaded: Effect.Effect<ReadonlyArray<string>>
}

export const makeSimNode = (options: SimNodeOptions): Effect.Effect<SimNode, never, Scope.Scope> =>
  Effect.gen(function*() {
    const profile = typeof options.profile === "string" ? profiles[options.profile] : options.profile
    const timeScale = options.timeScale ?? 1
    const nodeId = NodeId(options.name)
    let fault: Fault = options.fault ?? noFault
    let faultSetAt = yield* Clock.currentTimeMillis
    const engine = yield* makeEngine({
      profile,
      timeScale,
      slowFactor: () => (fault.mode === "slow" ? fault.factor : 1),
      trace: options.trace
    })
    const installed = new Set((options.models ?? Object.keys(profile.models)).map(normalizeModel).filter((m) => m in profile.models))
    const ctx: SimContext = {
      name: options.name,
      profile,
      engine,
      rng: makeRng(options.seed ?? 1),
      timeScale,
      installed,
      // The models a node starts with were installed when it started (Effect's clock: 0 under TestClock).
      installedAt: new Map([...installed].map((m) => [m, faultSetAt])),
      local: new Map(),
      blobs: new Set(),
      crashAfter: () => (fault.mode === "crash" ? fault.afterChunks : undefined)
    }
    for (const m of options.preload ?? []) {
      const spec = profile.models[normalizeModel(m)]
      if (spec !== undefined && installed.has(spec.name)) yield* engine.preload(spec)
    }
    const counts = { served: 0, inFlight: 0, maxInFlight: 0, faulted: 0 }
    const perEndpoint: Record<string, number> = {}
    const perModel: Record<string, number> = {}

    const transport = (detail: string) => new UpstreamError({ nodeId, reason: "Transport", detail })
    const isDown = (now: number) =>
      fault.mode === "refuse" ||
      (fault.mode === "flap" && Math.floor(((now - faultSetAt) * timeScale) / fault.periodMs) % 2 === 1)

    const setFault = (f: Fault) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => {
      fault = f
      faultSetAt = now
    }))

    const stats: Effect.Effect<SimStats> = Effect.sync(() => {
      const c = engine.counters()
      return {
        name: options.name,
        profile: profile.name,
        ...counts,
        running: c.running,
        maxRunning: c.maxRunning,
        waiting: engine.waiting(),
        perEndpoint: { ...perEndpoint },
        perModel: { ...perModel },
        loads: c.loads,
        evictions: c.evictions,
        unloads: c.unloads,
        rejected: c.rejected,
        faulted: counts.faulted,
        loaded: engine.residents().map((r) => r.spec.name),
        fault
      }
    })

    /** `/__sim/fault` and `/__sim/stats`: never faulted, so a test can always reach them. */
    const control = (reply: Reply, method: string, path: string, body: Uint8Array | undefined) =>
      Effect.gen(function*() {
        if (path === "/__sim/stats" && method === "GET") return yield* sendJson(reply, 200, yield* stats)
        if (path !== "/__sim/fault") return yield* ollamaError(reply, 404, "404 page not found")
        if (method === "GET") return yield* sendJson(reply, 200, { fault })
        const parsed = parseBody(body)
        const next = parsed.ok ? faultFromJson(parsed.value) : parsed.message
        if (typeof next === "string") return yield* ollamaError(reply, 400, next)
        yield* setFault(next)
        return yield* sendJson(reply, 200, { fault: next })
      })

    const handle = (request: UpstreamRequest, accept: (head: UpstreamHead) => BodySink) =>
      Effect.gen(function*() {
        const path = request.path.split("?")[0] ?? "/"
        const method = request.method.toUpperCase()
        const now = yield* Clock.currentTimeMillis
        const current = fault
        const reply = (truncateAfter: number | undefined) => makeReply(accept, { nodeId, headOnly: method === "HEAD", truncateAfter })
        if (path.startsWith("/__sim/")) return yield* control(reply(undefined), method, path, request.body)
        if (isDown(now)) {
          counts.faulted++
          return yield* Effect.fail(transport("connection refused"))
        }
        const resolved = resolve(method, path)
        const inference = resolved._tag === "Route" && resolved.route.inference
        const r = reply(inference && current.mode === "truncate" ? current.afterChunks : undefined)
        counts.inFlight++
        counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight)
        const error = path.startsWith("/v1/") ? openaiError : ollamaError
        const work = current.mode === "hang"
          ? Effect.never
          : inference && current.mode === "busy"
          ? error(r, 503, BUSY_MESSAGE)
          : inference && current.mode === "error500"
          ? error(r, 500, "llama runner process has terminated: exit status 2")
          : dispatch(ctx, r, resolved, request.body)
        yield* work.pipe(
          Effect.tapError(() => Effect.sync(() => counts.faulted++)),
          Effect.ensuring(Effect.sync(() => counts.inFlight--))
        )
        counts.served++
        bump(perEndpoint, path)
        if (inference) {
          const parsed = parseBody(request.body)
          const m = parsed.ok && typeof parsed.value["model"] === "string" ? normalizeModel(parsed.value["model"]) : undefined
          if (m !== undefined) bump(perModel, m)
        }
      })

    return {
      name: options.name,
      profile,
      timeScale,
      handle,
      setFault,
      fault: Effect.sync(() => fault),
      stats,
      loaded: Effect.sync(() => engine.residents().map((r) => r.spec.name))
    } satisfies SimNode
  })
