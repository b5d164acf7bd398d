/**
 * Ollama's blob routes across the cluster (ollama-api.md §2, §3.11), which a client uses before `/api/create` from a
 * local model file: `HEAD /api/blobs/:digest` is 200 only when every node has the blob (else 404, and the client
 * uploads it); `POST /api/blobs/:digest` tees the upload to every node as it arrives (a model file can be gigabytes:
 * it is never held whole), 201 when a node created it, 200 when every node had it, and a node's refusal (400 digest
 * mismatch) passed on. Nodes excluded for their failures are skipped, as for the other admin routes; `GET /api/status`
 * is relayed from a node.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { PassThrough } from "node:stream"
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import type { NodeId } from "../domain/NodeId.js"
import type { UpstreamRequest } from "../domain/Request.js"
import { errorTextOf, makeCollector } from "../runtime/respond.js"
import { describeUpstreamError } from "../runtime/timeouts.js"
import { WorkflowConfig } from "../runtime/workflowConfig.js"
import { targetsFor } from "./admin.js"
import { fanOutHeaders } from "./edgeHeaders.js"
import { sendJson } from "./nodeSink.js"

/** What one node answered: its status and body, or why it never did (status 0). */
interface NodeAnswer {
  readonly node: NodeId
  readonly status: number
  readonly body: Buffer
  readonly failure: string | undefined
}

/** No total limit: an upload of a model file may take long (a client that leaves ends it, see the gateway). */
const ask = (h: NodeHandle, request: UpstreamRequest, firstByteTimeoutMs: number) =>
  Effect.suspend(() => {
    let status = 0
    const body = makeCollector()
    return Effect.map(
      Effect.either(h.upstream.send(request, (head) => {
        status = head.status
        return body.sink
      }, { firstByteTimeoutMs, totalTimeoutMs: Infinity })),
      (sent): NodeAnswer => ({
        node: h.nodeId,
        status,
        body: body.bytes(),
        failure: sent._tag === "Left" ? describeUpstreamError(sent.left) : undefined
      })
    )
  })

/** An answer without a body (a HEAD, or a blob created), or with Ollama's `{"error"}`. */
const answer = (res: ServerResponse, status: number, headers: Record<string, string>, error?: string) =>
  error === undefined ? void res.writeHead(status, { ...headers, "content-length": "0" }).end() : sendJson(res, status, { error }, headers)

/** The answer for the nodes' answers: a failure first (the nodes' own 4xx, else 502), then 201 (any created) over 200. */
const combined = (answers: ReadonlyArray<NodeAnswer>) => {
  const refused = answers.find((a) => a.failure === undefined && a.status >= 400 && a.status < 500)
  if (refused !== undefined) return { status: refused.status, error: `${refused.node}: ${errorTextOf(refused.body)}` }
  const failed = answers.filter((a) => a.failure !== undefined || a.status >= 300)
  if (failed.length > 0) {
    const why = failed.map((a) => `${a.node}: ${a.failure ?? errorTextOf(a.body)}`).join("; ")
    return { status: 502, error: why }
  }
  return { status: answers.some((a) => a.status === 201) ? 201 : 200, error: undefined }
}

/** `HEAD` or `POST /api/blobs/:digest`, with `digest` the path segment as the client wrote it (each node judges it). */
export const runBlob = (req: IncomingMessage, res: ServerResponse, digest: string, only: string | undefined) =>
  Effect.gen(function*() {
    const { timeouts } = yield* WorkflowConfig
    const targets = yield* targetsFor("create", {}, only)
    if (targets._tag === "None") {
      req.resume()
      return answer(res, targets.status, {}, req.method === "HEAD" ? undefined : targets.error)
    }
    const { handles } = targets
    const path = `/api/blobs/${digest}`
    const headers = fanOutHeaders(handles.length, handles.map((h) => h.nodeId))
    const wait = timeouts.show.firstByteMs
    if (req.method === "HEAD") {
      req.resume()
      const request: UpstreamRequest = { method: "HEAD", path, headers: {}, body: undefined }
      const answers = yield* Effect.forEach(handles, (h) => ask(h, request, wait), { concurrency: "unbounded" })
      // a blob is there only when every node has it: otherwise the client uploads it (to every node)
      const everywhere = answers.every((a) => a.failure === undefined && a.status === 200)
      const failed = answers.find((a) => a.failure !== undefined || a.status >= 500)
      return answer(res, everywhere ? 200 : failed !== undefined ? 502 : 404, headers)
    }
    // One copy of the upload per node, fed as the client sends it; the client is paused while any copy is full.
    // A node that answers (or fails) before the end stops getting its copy; the others go on.
    const copies = handles.map(() => new PassThrough())
    // a client that leaves mid-upload ends the work through the gateway's interruption; its reset is no error here
    req.on("error", () => undefined)
    for (const copy of copies) req.pipe(copy)
    const length = req.headers["content-length"]
    const forward: Record<string, string> = { "content-type": "application/octet-stream" }
    if (typeof length === "string") forward["content-length"] = length
    const answers = yield* Effect.forEach(handles, (h, i) => {
      const copy = copies[i]!
      const request: UpstreamRequest = { method: "POST", path, headers: forward, body: undefined, stream: copy }
      return Effect.tap(ask(h, request, wait), () =>
        Effect.sync(() => {
          req.unpipe(copy)
          copy.resume()
        }))
    }, { concurrency: "unbounded" })
    req.resume()
    const outcome = combined(answers)
    answer(res, outcome.status, headers, outcome.error)
  })

/** `GET /api/status` from the first node that answers it. */
export const runStatus = (res: ServerResponse) =>
  Effect.gen(function*() {
    const { timeouts } = yield* WorkflowConfig
    const registry = yield* NodeRegistry
    const views = yield* registry.list
    const request: UpstreamRequest = { method: "GET", path: "/api/status", headers: {}, body: undefined }
    for (const view of views.filter((v) => v.routable)) {
      const handle = registry.get(view.nodeId)
      if (handle._tag === "None") continue
      const relayed = yield* ask(handle.value, request, timeouts.show.firstByteMs)
      if (relayed.failure !== undefined || relayed.status >= 500) continue
      res.writeHead(relayed.status, { "content-type": "application/json; charset=utf-8", ...fanOutHeaders(1, [view.nodeId]) })
      return res.end(relayed.body)
    }
    sendJson(res, 503, { error: "no routable node to ask" }, { "retry-after": "5" })
  })
