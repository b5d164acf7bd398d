/**
 * Starts the gateway inside the caller's scope: the runtime's services must be provided; the server closes
 * gracefully (stop accepting, drain, close) before they are torn down.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { AppConfig } from "../AppConfig.js"
import type { UpstreamFactory } from "../runtime/Sollol.js"
import type { WorkflowServices } from "../runtime/workflow.js"
import { makeHostGuard } from "./allowedHosts.js"
import { makeOriginCheck } from "./cors.js"
import { makeGatewayHandler } from "./gateway.js"
import type { GatewayOptions } from "./gateway.js"
import { listen, makeTracker } from "./server.js"
import type { RunningServer } from "./server.js"

export interface ServeOptions {
  readonly upstreamFactory: UpstreamFactory
  /** Port override (0 = ephemeral), e.g. for tests. */
  readonly port?: number
  readonly extraGet?: GatewayOptions["extraGet"]
  readonly authorize?: GatewayOptions["authorize"]
  readonly authorizeRoute?: GatewayOptions["authorizeRoute"]
  readonly authActive?: GatewayOptions["authActive"]
  readonly keysHandler?: GatewayOptions["keysHandler"]
}

export const serveGateway = (
  config: AppConfig,
  options: ServeOptions
): Effect.Effect<RunningServer, Error, WorkflowServices | Scope.Scope> =>
  Effect.gen(function*() {
    const tracker = makeTracker()
    const hostGuard = makeHostGuard(config.host, config.limits.allowedHosts)
    let shuttingDown = false
    const handler = yield* makeGatewayHandler({
      maxBodyBytes: config.limits.maxBodyBytes,
      upstreamFactory: options.upstreamFactory,
      shuttingDown: () => shuttingDown,
      track: tracker.track,
      cutOnShutdown: tracker.cutOnShutdown,
      ...(hostGuard !== undefined ? { hostGuard } : {}),
      originCheck: makeOriginCheck(config.limits.allowedOrigins),
      ...(options.extraGet !== undefined ? { extraGet: options.extraGet } : {}),
      ...(options.authorize !== undefined ? { authorize: options.authorize } : {}),
      ...(options.authActive !== undefined ? { authActive: options.authActive } : {}),
      ...(options.authorizeRoute !== undefined ? { authorizeRoute: options.authorizeRoute } : {}),
      ...(options.keysHandler !== undefined ? { keysHandler: options.keysHandler } : {})
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      shuttingDown = true
    }))
    return yield* listen(handler, {
      host: config.host,
      port: options.port ?? config.port,
      shutdownGraceMs: config.limits.shutdownGraceMs
    }, tracker)
  })
