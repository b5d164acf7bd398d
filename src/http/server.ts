/**
 * The gateway's node:http server, owned by an Effect scope. Closing the scope shuts down gracefully: stop
 * accepting, let in-flight requests finish up to a deadline, then cut what is left.
 */
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Deferred, Effect } from "effect"
import type { Scope } from "effect"

export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** How long shutdown waits for in-flight requests. */
  readonly shutdownGraceMs: number
}

export interface RunningServer {
  readonly server: Server
  readonly url: string
  readonly port: number
  /** Requests the edge is still answering. */
  readonly inFlight: () => number
}

/**
 * Counts open responses, so that shutdown knows when the last one finished, and keeps for each running request how
 * to cut it at the deadline (`cutOnShutdown`): stop its work, then end its answer with an explicit error.
 */
export const makeTracker = () => {
  const open = new Set<ServerResponse>()
  const cuts = new Map<ServerResponse, () => Promise<void>>()
  let onIdle: (() => void) | undefined
  return {
    track: (res: ServerResponse) => {
      open.add(res)
      res.once("close", () => {
        open.delete(res)
        cuts.delete(res)
        if (open.size === 0) onIdle?.()
      })
    },
    cutOnShutdown: (res: ServerResponse, cut: () => Promise<void>) => {
      if (open.has(res)) cuts.set(res, cut)
    },
    /** Cuts every request still running; resolves when each has ended its answer. */
    cutAll: () => Promise.all([...cuts.values()].map((cut) => cut().catch(() => undefined))),
    size: () => open.size,
    whenIdle: (f: () => void) => {
      if (open.size === 0) return f()
      onIdle = f
    }
  }
}

/** How long the cut at the deadline may take (stopping the work, writing the last line) before sockets close. */
const CUT_MS = 1_000

export const listen = (
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: ListenOptions,
  tracker: ReturnType<typeof makeTracker>
): Effect.Effect<RunningServer, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<RunningServer, Error>((resume) => {
      const server = createServer({ maxHeaderSize: 32 * 1024, keepAliveTimeout: 65_000, requestTimeout: 0 }, handler)
      server.on("clientError", (_error, socket) => {
        if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        else socket.destroy()
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(options.port, options.host, () => {
        const port = (server.address() as AddressInfo).port
        const host = options.host.includes(":") ? `[${options.host}]` : options.host
        resume(Effect.succeed({ server, url: `http://${host}:${port}`, port, inFlight: tracker.size }))
      })
    }),
    ({ server }) =>
      Effect.gen(function*() {
        const drained = yield* Deferred.make<void>()
        server.close()
        server.closeIdleConnections()
        tracker.whenIdle(() => Deferred.unsafeDone(drained, Effect.void))
        // a finalizer runs uninterruptibly, and so would the wait: the deadline could not cut it short
        const finished = yield* Effect.interruptible(Deferred.await(drained)).pipe(Effect.timeoutOption(options.shutdownGraceMs))
        // past the deadline: what still runs ends with an error line (or a 503), never a silent cut
        if (finished._tag === "None") {
          yield* Effect.interruptible(Effect.promise(tracker.cutAll)).pipe(Effect.timeoutOption(CUT_MS))
        }
        server.closeAllConnections()
      })
  )
