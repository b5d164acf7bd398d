/**
 * An Ollama node over HTTP: one undici Pool per node, created and closed with the node's scope. Bytes go
 * straight from undici's dispatch handler into the caller's sink; Effect only awaits the end (DESIGN.md,
 * "The hot path"), and interrupting that wait aborts the upstream request. It enforces all three time limits
 * itself (undici's header and body timers, plus one timer for the total), so the workflow runs no watchdog fiber.
 * undici's timers tick about every 0.5 s: fine for limits of seconds to minutes.
 */
import { Readable } from "node:stream"
import { Effect } from "effect"
import type { Scope } from "effect"
import { Pool } from "undici"
import type { Dispatcher } from "undici"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import type { UpstreamRequest } from "../domain/Request.js"
import type { BodySink, SendOptions, Upstream, UpstreamHead } from "../domain/Upstream.js"

export interface HttpUpstreamOptions {
  /** Most sockets kept to the node. Default 64. */
  readonly connections?: number
  /** TCP connect timeout in ms. Default 5 000. */
  readonly connectTimeoutMs?: number
  /** Default time to the response head in ms. Default 300 000 (a cold model load can take minutes). */
  readonly firstByteTimeoutMs?: number
  /** Default longest gap between body chunks in ms. Default 120 000. */
  readonly idleTimeoutMs?: number
  /** Default limit on a whole attempt in ms. Default 600 000. */
  readonly totalTimeoutMs?: number
}

/** undici's error codes → our reasons. Anything unknown is a transport failure. */
const reasonOf = (error: Error & { code?: string }): UpstreamError["reason"] => {
  switch (error.code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return "ConnectTimeout"
    case "UND_ERR_HEADERS_TIMEOUT":
      return "FirstByteTimeout"
    case "UND_ERR_BODY_TIMEOUT":
      return "IdleTimeout"
    case "UND_ERR_DESTROYED":
      return "Closed"
    default:
      return "Transport"
  }
}

class AbortedByCaller extends Error {
  override readonly name = "AbortError"
}

export const makeHttpUpstream = (
  nodeId: NodeId,
  url: string,
  options: HttpUpstreamOptions = {}
): Effect.Effect<Upstream, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        new Pool(new URL(url).origin, {
          connections: options.connections ?? 64,
          connectTimeout: options.connectTimeoutMs ?? 5_000,
          keepAliveTimeout: 30_000,
          pipelining: 1
        })
      ),
      (pool) => Effect.promise(() => pool.destroy().catch(() => undefined))
    ),
    (pool): Upstream => {
      const { host, pathname } = new URL(url)
      // a node behind a reverse proxy under a path (`https://proxy/ollama`): every request goes below it
      const base = pathname.replace(/\/+$/, "")
      const firstByteDefault = options.firstByteTimeoutMs ?? 300_000
      const idleDefault = options.idleTimeoutMs ?? 120_000
      const totalDefault = options.totalTimeoutMs ?? 600_000
      return {
        nodeId,
        url,
        enforcesTimeouts: true,
        send: (request, accept, sendOptions) =>
          Effect.async<void, UpstreamError>((resume) => {
            const handler = makeHandler(nodeId, accept, resume, sendOptions?.totalTimeoutMs ?? totalDefault)
            pool.dispatch(toDispatchOptions(request, host, base, sendOptions, firstByteDefault, idleDefault), handler)
            return Effect.sync(() => handler.abort())
          })
      }
    }
  )

const toDispatchOptions = (
  request: UpstreamRequest,
  host: string,
  base: string,
  sendOptions: SendOptions | undefined,
  firstByteDefault: number,
  idleDefault: number
): Dispatcher.DispatchOptions => ({
  path: base + request.path,
  method: request.method as Dispatcher.HttpMethod,
  headers: { ...request.headers, host },
  body: request.stream === undefined
    ? request.body ?? null
    : request.stream instanceof Readable ? request.stream : Readable.from(request.stream),
  headersTimeout: sendOptions?.firstByteTimeoutMs ?? firstByteDefault,
  bodyTimeout: sendOptions?.idleTimeoutMs ?? idleDefault
})

/**
 * A dispatch handler that feeds `accept`'s sink and settles the Effect exactly once. The total limit is a transport
 * timer like undici's own: when it fires the request is aborted and the attempt fails with `TotalTimeout`.
 */
const makeHandler = (
  nodeId: NodeId,
  accept: (head: UpstreamHead) => BodySink,
  resume: (effect: Effect.Effect<void, UpstreamError>) => void,
  totalMs: number
) => {
  let controller: Dispatcher.DispatchController | undefined
  let sink: BodySink | undefined
  let settled = false
  let abortedByCaller = false
  const settle = (effect: Effect.Effect<void, UpstreamError>) => {
    if (settled) return
    settled = true
    clearTimeout(total)
    resume(effect)
  }
  const abort = () => {
    abortedByCaller = true
    controller?.abort(new AbortedByCaller("aborted by the gateway"))
  }
  // no limit when `totalMs` is not a positive finite number (an upload or a model pull may take hours)
  const total = Number.isFinite(totalMs) && totalMs > 0
    ? setTimeout(() => {
      settle(Effect.fail(new UpstreamError({ nodeId, reason: "TotalTimeout", detail: `not finished within ${totalMs} ms` })))
      abort()
    }, totalMs)
    : undefined
  const handler: Dispatcher.DispatchHandler & { abort: () => void } = {
    abort: () => {
      settled = true
      clearTimeout(total)
      abort()
    },
    onRequestStart: (c) => {
      controller = c
      if (abortedByCaller) c.abort(new AbortedByCaller("aborted by the gateway"))
    },
    onResponseStart: (c, statusCode, headers) => {
      if (statusCode < 200 && statusCode !== 101) return
      try {
        sink = accept({ status: statusCode, headers })
      } catch (error) {
        c.abort(error as Error)
      }
    },
    onResponseData: (c, chunk) => {
      if (sink === undefined) return
      if (sink.write(chunk) === false && sink.onDrain !== undefined) {
        c.pause()
        sink.onDrain(() => c.resume())
      }
    },
    onResponseEnd: () => settle(Effect.void),
    onResponseError: (_c, error: Error & { code?: string }) => {
      if (abortedByCaller) return
      settle(
        Effect.fail(
          new UpstreamError({
            nodeId,
            reason: sink === undefined ? reasonOf(error) : reasonOf(error) === "Transport" ? "Truncated" : reasonOf(error),
            detail: error.message
          })
        )
      )
    }
  }
  return handler
}
