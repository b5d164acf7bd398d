/**
 * Everything a gateway installs for observability, from its config: metrics, the live view with alerts, and the
 * JSON request log; plus the extra GET routes (`/metrics`, `/dashboard`) to mount in the server.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect, Layer, Runtime } from "effect"
import type { AppConfig } from "../AppConfig.js"
import { dashboardHandler } from "./dashboard.js"
import * as LiveStats from "./LiveStats.js"
import * as Log from "./log.js"
import type { LogOptions } from "./log.js"
import * as Metrics from "./Metrics.js"

export interface ObservabilityOptions {
  /** Where JSON log lines go. Default stderr. */
  readonly write?: LogOptions["write"]
  /** Export Node.js process metrics. Default true. */
  readonly processMetrics?: boolean
}

export const layer = (config: AppConfig, options: ObservabilityOptions = {}) =>
  Layer.mergeAll(
    Metrics.layer(options.processMetrics !== undefined ? { processMetrics: options.processMetrics } : {}),
    LiveStats.layer({ queueCapacity: config.queue.maxSize }),
    Log.layer({ level: config.logLevel, ...(options.write !== undefined ? { write: options.write } : {}) })
  )

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** `/metrics` (Prometheus text format) and `/dashboard` as node:http handlers, for `serveGateway`'s `extraGet`. */
export const makeRoutes = Effect.gen(function*() {
  const metrics = yield* Metrics.Metrics
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const metricsHandler: Handler = (_req, res) =>
    void runFork(Effect.map(metrics.scrape, (text) => {
      res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) })
      res.end(text)
    }))
  return { "/metrics": metricsHandler, "/dashboard": dashboardHandler } satisfies Record<string, Handler>
})
