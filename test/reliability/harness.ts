/**
 * A runtime over in-process sim nodes on Effect's clock (TestClock drives everything), with a per-node override
 * hook so a test can script exactly how a node answers inference calls, and a ClientSink that records.
 */
import { Effect, Fiber, Layer, TestClock } from "effect"
import type { Scope } from "effect"
import { makeAppConfig } from "../../src/AppConfig.js"
import { UpstreamError } from "../../src/domain/errors.js"
import type { GatewayError } from "../../src/domain/errors.js"
import { NodeId } from "../../src/domain/NodeId.js"
import type { UpstreamRequest } from "../../src/domain/Request.js"
import type { BodySink, Upstream, UpstreamHead } from "../../src/domain/Upstream.js"
import type { ClientSink, ResponseHeaders } from "../../src/runtime/ClientSink.js"
import { makeIntent } from "../../src/runtime/intent.js"
import * as Sollol from "../../src/runtime/Sollol.js"
import { handle } from "../../src/runtime/workflow.js"
import type { WorkflowServices } from "../../src/runtime/workflow.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import type { SimNode } from "../../src/sim/SimNode.js"
import { simUpstream } from "../../src/sim/inProcess.js"

export const MODEL = "llama3.2:3b"

/** How a scripted node answers one inference call; `undefined` lets the sim node answer. */
export type Override = (
  request: UpstreamRequest,
  accept: (head: UpstreamHead) => BodySink,
  nodeId: NodeId
) => Effect.Effect<void, UpstreamError> | undefined

export interface TestNode {
  readonly name: string
  readonly sim: SimNode
  /** Inference calls that reached this node (overridden or not). */
  calls: number
  override: Override | undefined
}

const isInference = (path: string) => !/^\/api\/(version|tags|ps)/.test(path)

const scripted = (node: TestNode, inner: Upstream): Upstream => ({
  ...inner,
  send: (request, accept, options) => {
    if (!isInference(request.path)) return inner.send(request, accept, options)
    node.calls += 1
    return node.override?.(request, accept, inner.nodeId) ?? inner.send(request, accept, options)
  }
})

export const makeNodes = (names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name, i) =>
    Effect.map(
      makeSimNode({ name, profile: "gpu-consumer", models: [MODEL], preload: [MODEL], seed: i + 1 }),
      (sim): TestNode => ({ name, sim, calls: 0, override: undefined })
    ))

/** The real runtime layer from Sollol.ts over the scripted nodes. */
export const runtimeOf = (nodes: ReadonlyArray<TestNode>, config: Record<string, unknown> = {}, slots?: number) =>
  Sollol.layer(
    makeAppConfig({
      database: ":memory:",
      logLevel: "none",
      nodes: nodes.map((n) => ({ url: `http://${n.name}:11434`, name: n.name, ...(slots !== undefined ? { slots } : {}) })),
      ...config,
      routing: { retryBackoffMs: 1, ...(config["routing"] as object) }
    }),
    {
      upstreamFactory: (nodeId) =>
        Effect.sync(() => {
          const node = nodes.find((n) => n.name === nodeId)!
          return scripted(node, simUpstream(node.sim, nodeId))
        })
    }
  ).pipe(Layer.orDie)

export interface Recorded {
  status: number | undefined
  headers: ResponseHeaders | undefined
  body: string
  failed: string | undefined
  rejected: GatewayError | undefined
  ended: boolean
}

export const recordingSink = (framing: ClientSink["framing"] = "json"): ClientSink & { readonly out: Recorded } => {
  const out: Recorded = { status: undefined, headers: undefined, body: "", failed: undefined, rejected: undefined, ended: false }
  const decoder = new TextDecoder()
  return {
    out,
    framing,
    start: (status, headers) => {
      out.status = status
      out.headers = headers
    },
    write: (chunk) => {
      out.body += decoder.decode(chunk)
      return true
    },
    end: (last) => {
      if (last !== undefined) out.body += decoder.decode(last)
      out.ended = true
    },
    fail: (message) => {
      out.failed = message
      out.ended = true
    },
    reject: (error) => {
      out.rejected = error
      out.ended = true
    }
  }
}

export const chatIntent = (options: { stream?: boolean; kind?: "chat" | "embed" | "show"; content?: string } = {}) => {
  const kind = options.kind ?? "chat"
  const body: Record<string, unknown> = kind === "embed"
    ? { model: MODEL, input: "hello" }
    : kind === "show"
    ? { model: MODEL }
    : { model: MODEL, messages: [{ role: "user", content: options.content ?? "Hello there" }], stream: options.stream ?? false, options: { num_predict: 4 } }
  return makeIntent({ kind, body, priority: 5, arrivedAt: 0, path: `/api/${kind}`, headers: {} })
}

/** Runs one request to its end, moving virtual time forward in steps until it finishes. */
export const run = (intent = chatIntent(), sink = recordingSink(), stepMs = 100, maxSteps = 20_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(handle(intent, sink))
    for (let i = 0; i < maxSteps && fiber.unsafePoll() === null; i++) yield* TestClock.adjust(stepMs)
    yield* Fiber.join(fiber)
    return sink.out
  })

/** Scripted answers. */
export const reply = (status: number, body: unknown): Override => (_r, accept) =>
  Effect.sync(() => {
    const sink = accept({ status, headers: { "content-type": "application/json" } })
    sink.write(new TextEncoder().encode(JSON.stringify(body)))
  })
export const refuse: Override = (_r, _a, nodeId) => Effect.fail(new UpstreamError({ nodeId, reason: "Transport", detail: "connection refused" }))
export const hang: Override = () => Effect.never
/** A 200 stream that sends one line, then stays silent (`silent`) or breaks. */
export const firstLineThen = (then: "break" | "silent"): Override => (_r, accept, nodeId) =>
  Effect.gen(function*() {
    const sink = accept({ status: 200, headers: { "content-type": "application/x-ndjson" } })
    sink.write(new TextEncoder().encode(`{"model":"${MODEL}","message":{"role":"assistant","content":"Hi"},"done":false}\n`))
    yield* Effect.sleep(10)
    if (then === "silent") return yield* Effect.never
    return yield* new UpstreamError({ nodeId, reason: "Truncated", detail: "connection reset" })
  })

export type WorkflowEnv = WorkflowServices | Scope.Scope

/** The text of a forwarded request body (scripted nodes read markers from it). */
export const bodyText = (request: UpstreamRequest) => request.body === undefined ? "" : new TextDecoder().decode(request.body)
