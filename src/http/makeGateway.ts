/**
 * The whole gateway in one scoped effect: the runtime built from config, then the HTTP server on top of it.
 * The CLI, the demo and the tests all start it this way; closing the scope shuts both down in order.
 */
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { AppConfig } from "../AppConfig.js"
import type { StrategyCatalog } from "../strategies/catalog.js"
import * as Sollol from "../runtime/Sollol.js"
import type { UpstreamFactory } from "../runtime/Sollol.js"
import { serveGateway } from "./serve.js"

export interface GatewayStartOptions {
  readonly strategies?: StrategyCatalog
  readonly upstreamFactory?: UpstreamFactory
  /** Overrides `config.port` (0 = ephemeral). */
  readonly port?: number
}

export interface Gateway {
  readonly url: string
  readonly port: number
  readonly authEnabled: boolean
  /** The runtime's services, for tests and embedding. */
  readonly context: import("effect").Context.Context<import("../runtime/workflow.js").WorkflowServices>
}

export const makeGateway = (config: AppConfig, options: GatewayStartOptions = {}): Effect.Effect<Gateway, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const upstreamFactory = options.upstreamFactory ?? Sollol.httpUpstreamFactory(config)
    const context = yield* Layer.build(Sollol.layer(config, { ...options, upstreamFactory })).pipe(
      Effect.mapError((e) => new Error(e.message))
    )
    const running = yield* serveGateway(config, {
      upstreamFactory,
      ...(options.port !== undefined ? { port: options.port } : {})
    }).pipe(Effect.provide(context))
    return { url: running.url, port: running.port, authEnabled: false, context }
  })
