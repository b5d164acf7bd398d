/**
 * Serves a SimNode over HTTP with plain node:http and raw writes (no @effect/platform on this path). Each request
 * runs `node.handle` as a fiber; a client disconnect interrupts it, and a failed handle (refuse, flap, truncate)
 * destroys the socket so the client sees a reset, never a clean end. Ollama's Host check and CORS come first.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Exit, FiberId, FiberSet } from "effect"
import type { Scope } from "effect"
import { makeHostGuard } from "../http/allowedHosts.js"
import { applyCors, isPreflight, makeOriginCheck, preflightHeaders } from "../http/cors.js"
import type { SimNode } from "./SimNode.js"

export interface ServeOptions {
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string
  /** Port; default 0 (an ephemeral port). */
  readonly port?: number
}

const requestHeaders = (req: http.IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v
  return out
}

const responseHeaders = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>) => {
  const out: Record<string, string | Array<string>> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = typeof v === "string" ? v : [...v]
  return out
}

export const serveSimNode = (
  node: SimNode,
  options: ServeOptions = {}
): Effect.Effect<{ readonly url: string; readonly port: number }, NodeJS.ErrnoException, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const run = yield* FiberSet.makeRuntime<never, void, unknown>()

    // as Ollama's middleware: the Host check while bound to loopback, then CORS (ollama-api.md §1.1)
    const hostGuard = makeHostGuard(host)
    const originCheck = makeOriginCheck([])
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if ((hostGuard !== undefined && !hostGuard(req)) || !originCheck(req)) {
        req.resume()
        return void res.writeHead(403, { "content-length": "0" }).end()
      }
      applyCors(req, res)
      if (isPreflight(req)) {
        req.resume()
        preflightHeaders(req, res)
        return void res.writeHead(204).end()
      }
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("error", () => res.destroy())
      req.on("end", () => {
        const body = chunks.length === 0 ? undefined : new Uint8Array(Buffer.concat(chunks))
        const fiber = run(node.handle(
          { method: req.method ?? "GET", path: req.url ?? "/", headers: requestHeaders(req), body },
          (head) => {
            res.writeHead(head.status, responseHeaders(head.headers))
            return {
              write: (chunk) => res.write(chunk),
              onDrain: (resume) => void res.once("drain", resume)
            }
          }
        ))
        fiber.addObserver((exit) => {
          if (Exit.isSuccess(exit)) return void res.end()
          // what was written still goes out (node:http holds writes corked until the next tick), then the cut
          res.socket?.uncork()
          res.destroy()
        })
        res.on("close", () => {
          if (!res.writableFinished) fiber.unsafeInterruptAsFork(FiberId.none)
        })
      })
    }

    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, NodeJS.ErrnoException>((resume) => {
        const s = http.createServer(onRequest)
        // a failed listen (port in use, no such address) fails the effect rather than crashing the process
        s.once("error", (error) => resume(Effect.fail(error)))
        s.listen(options.port ?? 0, host, () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.close(() => resume(Effect.void))
          s.closeAllConnections()
        })
    )
    const port = (server.address() as AddressInfo).port
    const shown = host.includes(":") ? `[${host}]` : host
    return { url: `http://${shown}:${port}`, port }
  })
