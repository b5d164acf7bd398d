/**
 * Model administration fanned out to nodes: `/api/pull`, `/api/create`, `/api/copy`, `/api/delete`, to every
 * node or to `?node=<id>`. Streams merge progress lines from all targets (each tagged with `node`) and end with
 * one `{"status":"success"}` only when every target succeeded, else with an `{"error"}` line.
 */
import type { ServerResponse } from "node:http"
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { encoder, stringifyJson } from "../domain/json.js"
import { makeLineSplitter } from "../domain/ndjson.js"
import { normalizeModel } from "../domain/Model.js"
import type { NodeId } from "../domain/NodeId.js"
import { errorTextOf, makeCollector } from "../runtime/respond.js"

export type AdminOp = "pull" | "create" | "copy" | "delete"

interface NodeResult {
  readonly node: NodeId
  readonly status: number
  readonly error: string | undefined
}

const targetsFor = (op: AdminOp, body: Record<string, unknown>, only: string | undefined) =>
  Effect.gen(function*() {
    const registry = yield* NodeRegistry
    const views = yield* registry.list
    const model = typeof body.model === "string" ? body.model : typeof body.name === "string" ? body.name : undefined
    const source = typeof body.source === "string" ? body.source : undefined
    const needs = op === "delete" ? model : op === "copy" ? source : undefined
    return views
      .filter((v) => only === undefined || v.nodeId === only)
      .filter((v) => needs === undefined || v.models.some((m) => m.name === normalizeModel(needs)))
      .flatMap((v) => {
        const h = registry.get(v.nodeId)
        return h._tag === "Some" ? [h.value] : []
      })
  })

/** Runs the admin call on every target; progress lines go to `onLine` as they arrive. */
const runOn = (
  handles: ReadonlyArray<NodeHandle>,
  method: string,
  path: string,
  raw: Uint8Array,
  onLine: (node: NodeId, line: Record<string, unknown>) => void
) =>
  Effect.forEach(handles, (h) =>
    Effect.gen(function*() {
      let status = 0
      const collected = makeCollector()
      const lines = makeLineSplitter((line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          if (status < 300 && typeof parsed === "object" && parsed !== null) onLine(h.nodeId, parsed)
        } catch {
          // not a progress line; the collected body still holds it
        }
      })
      const sent = yield* Effect.either(h.upstream.send(
        { method, path, headers: { "content-type": "application/json" }, body: raw },
        (head) => {
          status = head.status
          return { write: (chunk) => void (collected.sink.write(chunk), lines.push(chunk)) }
        }
      ))
      lines.flush()
      const registry = yield* NodeRegistry
      yield* Effect.ignore(registry.refreshModels(h.nodeId))
      if (sent._tag === "Left") return { node: h.nodeId, status: 502, error: sent.left.message } satisfies NodeResult
      const body = collected.bytes()
      const error = status >= 300 ? errorTextOf(body) : undefined
      return { node: h.nodeId, status, error } satisfies NodeResult
    }), { concurrency: "unbounded" })

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
    const model = String(body.model ?? body.name ?? body.source ?? "")
    if (targets.length === 0) {
      const status = op === "delete" || op === "copy" ? 404 : 503
      const error = status === 404 ? `model '${model}' not found` : only !== undefined ? `node '${only}' not found` : "no node to run on"
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" })
      return res.end(stringifyJson({ error }))
    }
    const stream = (op === "pull" || op === "create") && body.stream !== false
    if (stream) res.writeHead(200, { "content-type": "application/x-ndjson" })
    const results = yield* runOn(targets, method, `/api/${op}`, raw, (node, line) => {
      if (!stream || line.status === "success" || line.error !== undefined) return
      res.write(encoder.encode(`${stringifyJson({ ...line, node })}\n`))
    })
    const failed = results.filter((r) => r.error !== undefined)
    const summary = failed.map((r) => `${r.node}: ${r.error}`).join("; ")
    if (stream) {
      return res.end(failed.length === 0 ? `${stringifyJson({ status: "success" })}\n` : `${stringifyJson({ error: summary })}\n`)
    }
    if (failed.length === results.length) {
      const status = failed.every((r) => r.status === 404) ? 404 : failed[0]?.status ?? 502
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" })
      return res.end(stringifyJson({ error: summary }))
    }
    if (op === "delete" || op === "copy") {
      res.writeHead(200, { "content-length": "0" })
      return res.end()
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" })
    res.end(stringifyJson(failed.length === 0 ? { status: "success" } : { status: "partial", error: summary }))
  })
