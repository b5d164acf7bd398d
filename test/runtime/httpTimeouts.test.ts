/**
 * The HTTP transport enforces the three per-attempt limits itself (no watchdog fiber): a silent node, a stream
 * that stalls and one that trickles past the total each fail with their own reason and the workflow's wording.
 */
import { createServer } from "node:http"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UpstreamError } from "../../src/domain/errors.js"
import type { NodeId } from "../../src/domain/NodeId.js"
import { makeHttpUpstream } from "../../src/runtime/httpUpstream.js"
import { describeUpstreamError, makeActivity, withTimeouts } from "../../src/runtime/timeouts.js"

const nodeId = "n" as NodeId
let server: Server
let url = ""
const timers = new Set<NodeJS.Timeout>()

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/silent") return // never answers
    res.writeHead(200, { "content-type": "application/x-ndjson" })
    res.write("{}\n")
    if (req.url === "/stall") return // head and one chunk, then nothing
    if (req.url === "/trickle") {
      const tick = setInterval(() => res.write("{}\n"), 20)
      timers.add(tick)
      req.on("close", () => clearInterval(tick))
      return
    }
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const t of timers) clearInterval(t)
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

// undici's header and body timers tick about every half second, so the total is kept well above where they fire.
const limits = { firstByteMs: 100, idleMs: 100, totalMs: 2_500 }

const send = (path: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const upstream = yield* Scope.extend(makeHttpUpstream(nodeId, url), scope)
    const chunks: Array<number> = []
    const run = upstream.send(
      { method: "GET", path, headers: {}, body: undefined },
      () => ({ write: (c) => void chunks.push(c.byteLength) }),
      { firstByteTimeoutMs: limits.firstByteMs, idleTimeoutMs: limits.idleMs, totalTimeoutMs: limits.totalMs }
    )
    const exit = yield* Effect.exit(withTimeouts(run, nodeId, makeActivity(0), limits, "generation", true))
    yield* Scope.close(scope, Exit.void)
    return { exit, chunks, enforces: upstream.enforcesTimeouts }
  })

const failure = (exit: Exit.Exit<void, UpstreamError>) => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error("expected a failure")
  return exit.cause.error
}

describe("http upstream time limits", () => {
  it("declares that it enforces the limits and completes a normal answer", async () => {
    const r = await Effect.runPromise(send("/ok"))
    expect(r.enforces).toBe(true)
    expect(Exit.isSuccess(r.exit)).toBe(true)
    expect(r.chunks.length).toBeGreaterThan(0)
  })

  it.concurrent("a node that never answers fails with the first-byte limit, worded like the watchdog", async () => {
    const e = failure((await Effect.runPromise(send("/silent"))).exit)
    expect(e).toBeInstanceOf(UpstreamError)
    expect(e.reason).toBe("FirstByteTimeout")
    expect(e.detail).toBe("no response within 100 ms (generation first-byte timeout)")
  })

  it.concurrent("a stream that goes silent fails with the idle limit", async () => {
    const e = failure((await Effect.runPromise(send("/stall"))).exit)
    expect(e.reason).toBe("IdleTimeout")
    expect(e.detail).toBe("no data for 100 ms (generation idle timeout)")
  })

  it.concurrent("a stream that trickles forever fails with the total limit", async () => {
    const r = await Effect.runPromise(send("/trickle"))
    const e = failure(r.exit)
    expect(e.reason).toBe("TotalTimeout")
    expect(e.detail).toBe("not finished within 2500 ms (generation total timeout)")
    expect(r.chunks.length).toBeGreaterThan(1)
  })

  it("a node the gateway lets go mid-stream fails as 'Closed', not as the node's cut", async () => {
    const exit = await Effect.runPromise(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const upstream = yield* Scope.extend(makeHttpUpstream(nodeId, url), scope)
      // the node's scope closes (removal) once its first chunk has arrived
      const run = upstream.send({ method: "GET", path: "/trickle", headers: {}, body: undefined }, () => ({
        write: () => void Effect.runFork(Scope.close(scope, Exit.void))
      }))
      return yield* Effect.exit(run)
    }))
    const e = failure(exit)
    expect(e.reason).toBe("Closed")
    expect(describeUpstreamError(e)).toBe("the gateway closed its connections to node n (removed from the cluster, or shutting down)")
  })
})
