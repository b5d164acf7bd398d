/**
 * The whole gateway in one scoped effect: the runtime built from config, then the HTTP server on top of it.
 * The CLI, the demo and the tests all start it this way; closing the scope shuts both down in order.
 */
import { Context, Effect, Layer } from "effect"
import type { Clock, Scope } from "effect"
import type { AppConfig } from "../AppConfig.js"
import * as ApiKeys from "../runtime/ApiKeys.js"
import type { ApiKeysService } from "../runtime/ApiKeys.js"
import { LearningStore } from "../runtime/LearningStore.js"
import { persistLearning } from "../runtime/persistence.js"
import * as RateLimiter from "../runtime/RateLimiter.js"
import * as Store from "../runtime/Store.js"
import type { StrategyCatalog } from "../strategies/catalog.js"
import * as Sollol from "../runtime/Sollol.js"
import type { UpstreamFactory } from "../runtime/Sollol.js"
import type { WorkflowServices } from "../runtime/workflow.js"
import { makeGatewayAuth } from "./auth.js"
import type { GatewayAuth } from "./auth.js"
import { makeKeysHandler } from "./keysRoutes.js"
import * as Observability from "../observability/Observability.js"
import { withJsonLogging } from "../observability/log.js"
import { serveGateway } from "./serve.js"

export interface GatewayStartOptions {
  readonly strategies?: StrategyCatalog
  readonly upstreamFactory?: UpstreamFactory
  /** Overrides `config.port` (0 = ephemeral). */
  readonly port?: number
  /** The clock key expiry and rate limits read (tests move one by hand). Default: Effect's. */
  readonly authClock?: Clock.Clock
}

export interface Gateway {
  readonly url: string
  readonly port: number
  /** Whether requests were checked at startup (`auto` turns auth on later, with the first key). */
  readonly authEnabled: boolean
  /** The key store the gateway checks (the same SQLite file as `sollol keys`). */
  readonly apiKeys: ApiKeysService
  /** The runtime's services, for tests and embedding. */
  readonly context: Context.Context<WorkflowServices>
  /** How the gateway reaches a node: for nodes added at run time (admin API, config reload). */
  readonly upstreamFactory: UpstreamFactory
}

export const makeGateway = (config: AppConfig, options: GatewayStartOptions = {}): Effect.Effect<Gateway, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const upstreamFactory = options.upstreamFactory ?? Sollol.httpUpstreamFactory(config)
    // Opened first, so it closes last: after the server drained and the final learning snapshot was saved.
    const store = yield* Store.make(config.database).pipe(Effect.mapError((e) => new Error(e.message)))
    const apiKeys = yield* Effect.provideService(ApiKeys.make, Store.Store, store)
    const limiter = yield* RateLimiter.make()
    const context = yield* Layer.build(Sollol.layer(config, { ...options, upstreamFactory })).pipe(
      Effect.mapError((e) => new Error(e.message))
    )
    const observability = yield* Layer.build(Observability.layer(config)).pipe(Effect.provide(context))
    const extraGet = yield* Observability.makeRoutes.pipe(Effect.provide(observability))
    yield* persistLearning().pipe(
      Effect.provideService(Store.Store, store),
      Effect.provideService(LearningStore, Context.get(context, LearningStore))
    )
    const auth = withClock(
      yield* makeGatewayAuth(config.auth.mode).pipe(
        Effect.provideService(ApiKeys.ApiKeys, apiKeys),
        Effect.provideService(RateLimiter.RateLimiter, limiter)
      ),
      options.authClock
    )
    // Keys created through this gateway switch auth on for the very next request.
    const observedKeys: ApiKeys.ApiKeysService = {
      ...apiKeys,
      create: (input) => Effect.tap(apiKeys.create(input), () => auth.keyCreated)
    }
    const keysHandler = yield* Effect.provideService(makeKeysHandler, ApiKeys.ApiKeys, observedKeys)
    const running = yield* serveGateway(config, {
      upstreamFactory,
      extraGet,
      keysHandler,
      ...(config.auth.mode !== "off"
        ? { authorize: auth.authorize, authorizeRoute: auth.authorizeRoute, authActive: auth.active }
        : {}),
      ...(options.port !== undefined ? { port: options.port } : {})
    }).pipe(Effect.provide(Context.merge(context, observability)))
    const authEnabled = yield* auth.enabled
    return { url: running.url, port: running.port, authEnabled, apiKeys: observedKeys, context, upstreamFactory }
  }).pipe(withJsonLogging({ level: config.logLevel }))

/** Runs auth's checks on `clock` when one is given. */
const withClock = (auth: GatewayAuth, clock: Clock.Clock | undefined): GatewayAuth =>
  clock === undefined ? auth : {
    enabled: auth.enabled,
    active: auth.active,
    keyCreated: auth.keyCreated,
    authorize: (...args) => Effect.withClock(auth.authorize(...args), clock),
    authorizeRoute: (req, permission) => Effect.withClock(auth.authorizeRoute(req, permission), clock)
  }
