/**
 * Model administration fanned out to nodes: `/api/pull`, `/api/create`, `/api/copy`, `/api/delete`, to every
 * node or to `?node=<id>`; `/api/push` to one node that has the model. A stream merges every target's lines, each tagged with `node` (error lines too), and ends
 * with `{"status":"success"}` only when every target succeeded, else with one `{"error"}` line naming each failure;
 * a plain answer is 200 only when every target succeeded.
 */
import type { ServerResponse } from "node:http"
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { stringifyJson } from "../domain/json.js"
import { makeLineSplitter } from "../domain/ndjson.js"
import { normalizeModel } from "../domain/Model.js"
import type { NodeId } from "../domain/NodeId.js"
import type { UpstreamRequest } from "../domain/Request.js"
import type { SendOptions } from "../domain/Upstream.js"
import { errorTextOf, makeCollector } from "../runtime/respond.js"
import { describeUpstreamError } from "../runtime/timeouts.js"
import { WorkflowConfig } from "../runtime/workflowConfig.js"
import { fanOutHeaders } from "./edgeHeaders.js"

export type AdminOp = "pull" | "push" | "create" | "copy" | "delete"

interface NodeResult {
  readonly node: NodeId
  /** The status the node's failure stands for (its own, 500 for an in-stream error, 502 when it never answered). */
  readonly status: number
  readonly error: string | undefined
}

export type Targets =
  | { readonly _tag: "Nodes"; readonly handles: ReadonlyArray<NodeHandle>; readonly skipped: ReadonlyArray<NodeId> }
  | { readonly _tag: "None"; readonly status: number; readonly error: string }

const JSON_TYPE = "application/json; charset=utf-8"

const textField = (body: Record<string, unknown>, key: string) => typeof body[key] === "string" ? body[key] as string : ""

/**
 * The nodes to run on: all (or `only`), and for delete and copy only those that have the model. A node the health
 * machine took out for its failures is skipped unless named: it would hold the whole answer until its first-byte
 * timeout.
 */
export const targetsFor = (op: AdminOp, body: Record<string, unknown>, only: string | undefined) =>
  Effect.gen(function*() {
    const registry = yield* NodeRegistry
    const views = yield* registry.list
    if (only !== undefined && !views.some((v) => v.nodeId === only)) {
      return { _tag: "None", status: 404, error: `node '${only}' not found` } satisfies Targets
    }
    const model = textField(body, "model") || textField(body, "name")
    const needs = op === "delete" || op === "push" ? model : op === "copy" ? textField(body, "source") : undefined
    const named = views.filter((v) => only === undefined || v.nodeId === only)
    // a drained node is only out of traffic (an operator may drain one to pull onto it): it still gets the call
    const skipped = only === undefined ? named.filter((v) => v.health === "excluded" && !v.drained).map((v) => v.nodeId) : []
    const handles = named
      .filter((v) => !skipped.includes(v.nodeId))
      .filter((v) => needs === undefined || v.models.some((m) => m.name === normalizeModel(needs)))
      .flatMap((v) => {
        const h = registry.get(v.nodeId)
        return h._tag === "Some" ? [h.value] : []
      })
    // a push uploads one node's copy of the model: any node that has it will do
    if (handles.length > 0) return { _tag: "Nodes", handles: op === "push" ? handles.slice(0, 1) : handles, skipped } satisfies Targets
    // Ollama's own words: `model 'x' not found` on delete, `model "x" not found` on copy (ollama-api §3.12, §3.13)
    const error = op === "delete" || op === "push"
      ? `model '${model}' not found`
      : op === "copy"
      ? `model "${needs}" not found`
      : "no node to run on"
    if (skipped.length > 0) {
      return { _tag: "None", status: 503, error: `no node to run on: ${skipped.join(", ")} excluded by health checks` } satisfies Targets
    }
    return { _tag: "None", status: needs === undefined ? 503 : 404, error } satisfies Targets
  })

/** Where one node's answer goes while the fan-out runs. */
interface Relay {
  /** The node answered with `status`, or never will (0). Called once per node. */
  readonly onHead: (node: NodeId, status: number) => void
  /** A progress line of a 2xx answer (not its `success`), or the node's failure as `{error}`. */
  readonly onLine: (node: NodeId, line: Record<string, unknown>) => void
}

const parseLine = (text: string): Record<string, unknown> | undefined => {
  try {
    const parsed: unknown = JSON.parse(text)
    const isObject = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    return isObject ? parsed as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs the call on one node. It failed when it never answered, answered a non-2xx status, sent an `{"error"}` line
 * (Ollama's in-stream failure, ollama-api §4.5) or, asked to stream, ended without `{"status":"success"}`.
 */
const runOne = (h: NodeHandle, request: UpstreamRequest, streamed: boolean, relay: Relay, limits: SendOptions) =>
  Effect.gen(function*() {
    let status = 0
    let lineError: string | undefined
    let succeeded = false
    const errorBody = makeCollector()
    const lines = makeLineSplitter((text) => {
      const line = parseLine(text)
      if (line === undefined) return
      if (line.error !== undefined) lineError ??= typeof line.error === "string" ? line.error : stringifyJson(line.error)
      else if (line.status === "success") succeeded = true
      else relay.onLine(h.nodeId, line)
    })
    const sent = yield* Effect.either(h.upstream.send(request, (head) => {
      status = head.status
      relay.onHead(h.nodeId, status)
      return status >= 200 && status < 300 ? { write: (chunk) => void lines.push(chunk) } : errorBody.sink
    }, limits))
    if (status === 0) relay.onHead(h.nodeId, 0)
    else if (status < 300) lines.flush()
    const registry = yield* NodeRegistry
    yield* Effect.ignore(registry.refreshModels(h.nodeId))
    const result: NodeResult = status >= 300
      ? { node: h.nodeId, status, error: errorTextOf(errorBody.bytes()) }
      : lineError !== undefined
      ? { node: h.nodeId, status: 500, error: lineError }
      : sent._tag === "Left"
      ? { node: h.nodeId, status: 502, error: describeUpstreamError(sent.left) }
      : streamed && !succeeded
      ? { node: h.nodeId, status: 502, error: "the stream ended before success" }
      : { node: h.nodeId, status, error: undefined }
    if (result.error !== undefined) relay.onLine(h.nodeId, { error: result.error })
    return result
  })

/** The status of an answer that failed: the nodes' own when they agree, else 502. */
const failureStatus = (failed: ReadonlyArray<NodeResult>) =>
  failed.every((r) => r.status === failed[0]!.status) ? failed[0]!.status : 502

export const runAdmin = (
  op: AdminOp,
  res: ServerResponse,
  method: string,
  body: Record<string, unknown>,
  raw: Uint8Array,
  only: string | undefined
) =>
  Effect.gen(function*() {
    const targets = yield* targetsFor(op, body, only)
    if (targets._tag === "None") {
      res.writeHead(targets.status, { "content-type": JSON_TYPE })
      return res.end(stringifyJson({ error: targets.error }))
    }
    const { handles, skipped } = targets
    const stream = (op === "pull" || op === "push" || op === "create") && body.stream !== false
    // 1. Lines are held until a node answers 2xx: until then nothing is sent, so when none does, the nodes' status
    //    can still be passed through instead of a 200.
    // 2. Then lines go out as they arrive, each tagged with its node; every failure is relayed as an error line.
    const answered: Array<NodeId> = []
    const held: Array<string> = []
    let streaming = false
    const skippedHeader: Record<string, string> = skipped.length > 0 ? { "x-sollol-skipped": skipped.join(",") } : {}
    const relay: Relay = {
      onHead: (node, status) => {
        if (status > 0) answered.push(node)
        if (!stream || streaming || status < 200 || status >= 300) return
        streaming = true
        const asked = handles.map((h) => h.nodeId)
        res.writeHead(200, { "content-type": "application/x-ndjson", ...fanOutHeaders(asked.length, asked), ...skippedHeader })
        for (const node of skipped) res.write(`${stringifyJson({ status: "skipped: excluded by health checks", node })}\n`)
        for (const line of held.splice(0)) res.write(line)
      },
      onLine: (node, line) => {
        if (!stream) return
        const text = `${stringifyJson({ ...line, node })}\n`
        if (streaming) res.write(text)
        else held.push(text)
      }
    }
    const { timeouts } = yield* WorkflowConfig
    const headers = { "content-type": "application/json" }
    const request: UpstreamRequest = { method, path: `/api/${op}`, headers, body: raw }
    // A streamed call's head comes at once (the stream starts before the work): it gets /api/show's wait. A plain
    // one answers when the work is done, which for a pull can be hours. Neither has a total limit; a client that
    // leaves ends the calls (see the gateway).
    const limits: SendOptions = { firstByteTimeoutMs: stream ? timeouts.show.firstByteMs : 0, totalTimeoutMs: Infinity }
    const results = yield* Effect.forEach(handles, (h) => runOne(h, request, stream, relay, limits), {
      concurrency: "unbounded"
    })
    const failed = results.filter((r) => r.error !== undefined)
    const summary = failed.map((r) => `${r.node}: ${r.error}`).join("; ")
    if (streaming) return res.end(`${stringifyJson(failed.length === 0 ? { status: "success" } : { error: summary })}\n`)
    const sollol = { ...fanOutHeaders(handles.length, answered), ...skippedHeader }
    if (failed.length > 0) {
      res.writeHead(failureStatus(failed), { "content-type": JSON_TYPE, ...sollol })
      return res.end(stringifyJson({ error: summary }))
    }
    if (op === "delete" || op === "copy") {
      res.writeHead(200, { "content-length": "0", ...sollol })
      return res.end()
    }
    res.writeHead(200, { "content-type": JSON_TYPE, ...sollol })
    res.end(stringifyJson({ status: "success" }))
  })
