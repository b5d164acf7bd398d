/**
 * Scripted Ollama nodes on ephemeral loopback ports behind a real gateway, for the admin fan-out tests: each node
 * answers the probes (`/api/version`, `/api/tags` with model `m:latest`, `/api/ps`) and runs a script per admin path.
 */
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Exit, Scope } from "effect"
import { makeAppConfig } from "../../src/AppConfig.js"
import type { AppConfigInput } from "../../src/AppConfig.js"
import { makeGateway } from "../../src/http/makeGateway.js"

/** Answers one admin request (`body` parsed when it was JSON). */
export type Script = (res: ServerResponse, body: Record<string, unknown>) => void

/** Takes the request as it arrives, body unread (for uploads); keyed by path prefix, e.g. `/api/blobs/`. */
export type StreamScript = (req: IncomingMessage, res: ServerResponse) => void

export interface FakeNode {
  readonly name: string
  readonly url: string
  /** Admin requests received, by path. */
  readonly calls: Array<string>
}

export interface FakeCluster {
  readonly url: string
  readonly nodes: ReadonlyArray<FakeNode>
  readonly close: () => Promise<void>
}

export const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

/** An NDJSON answer: status 200, then `lines`. */
export const ndjson = (res: ServerResponse, lines: ReadonlyArray<unknown>) => {
  res.writeHead(200, { "content-type": "application/x-ndjson" })
  res.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(""))
}

const PROBES: Record<string, unknown> = {
  "/api/version": { version: "0.12.6" },
  "/api/tags": { models: [{ name: "m:latest", model: "m:latest", digest: "d1", size: 1 }] },
  "/api/ps": { models: [] }
}

const startNode = async (name: string, scripts: Readonly<Record<string, Script>>, streams: Readonly<Record<string, StreamScript>>) => {
  const calls: Array<string> = []
  const server = createServer((req, res) => {
    const prefix = Object.keys(streams).find((p) => (req.url ?? "").startsWith(p))
    if (prefix !== undefined) {
      calls.push(prefix)
      return streams[prefix]!(req, res)
    }
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!
      const probe = PROBES[path]
      // a script may stand in for a probe (its answer then also reaches the gateway's probes)
      if (probe !== undefined && scripts[path] === undefined) return json(res, 200, probe)
      calls.push(path)
      const script = scripts[path]
      if (script === undefined) return json(res, 404, { error: "404 page not found" })
      let body: Record<string, unknown> = {}
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>
      } catch {
        // scripts see an empty body
      }
      script(res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const node: FakeNode = { name, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls }
  return { node, server }
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

/** One fake node per entry (name → scripts by path), and a gateway in front of them. */
export const startFakeCluster = async (
  nodes: Readonly<Record<string, Readonly<Record<string, Script>>>>,
  /** Gateway settings over the defaults (`timeouts`, `limits`, …). */
  settings: Record<string, unknown> = {},
  /** Per node, scripts that take requests as they arrive. */
  streams: Readonly<Record<string, Readonly<Record<string, StreamScript>>>> = {}
): Promise<FakeCluster> => {
  const started = await Promise.all(Object.entries(nodes).map(([name, scripts]) => startNode(name, scripts, streams[name] ?? {})))
  const scope = Effect.runSync(Scope.make())
  const close = async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Promise.all(started.map((s) => closeServer(s.server)))
  }
  try {
    const config = makeAppConfig({
      port: 0,
      database: ":memory:",
      logLevel: "none",
      nodes: started.map((s) => ({ url: s.node.url, name: s.node.name })),
      routing: { retryBackoffMs: 1 },
      ...settings
    } as AppConfigInput)
    const gateway = await Effect.runPromise(Scope.extend(makeGateway(config, { port: 0 }), scope))
    return { url: gateway.url, nodes: started.map((s) => s.node), close }
  } catch (error) {
    await close()
    throw error
  }
}
