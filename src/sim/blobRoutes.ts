/**
 * `HEAD`/`POST /api/blobs/:digest` (server/routes.go `HeadBlobHandler`, `CreateBlobHandler`), `POST /api/push` and
 * `GET /api/status`. An upload is checked against its digest and kept (as its digest only: `/api/create` then finds
 * the blob, though the simulator cannot read it as a model file). A push streams Ollama's progress without a registry.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { normalizeModel } from "../domain/Model.js"
import { makeProgress } from "./progress.js"
import { modelOf } from "./simContext.js"
import type { SimContext } from "./simContext.js"
import { ollamaError, sendBody, sendJson, str } from "./wire.js"
import type { Reply } from "./wire.js"

const DIGEST = /^sha256[:-]([0-9a-fA-F]{64})$/

/** The blob's key, `sha256:<hex>` (Ollama takes `sha256-` too), or undefined for a malformed digest. */
export const blobKey = (digest: string): string | undefined => {
  const hex = DIGEST.exec(digest)?.[1]
  return hex === undefined ? undefined : `sha256:${hex.toLowerCase()}`
}

export const headBlob = (ctx: SimContext, reply: Reply, digest: string) => {
  const key = blobKey(digest)
  if (key === undefined) return ollamaError(reply, 400, "invalid digest format")
  return ctx.blobs.has(key) ? sendBody(reply, 200, "text/plain; charset=utf-8", "") : ollamaError(reply, 404, `blob "${digest}" not found`)
}

export const createBlob = (ctx: SimContext, reply: Reply, digest: string, raw: Uint8Array | undefined) =>
  Effect.suspend(() => {
    const key = blobKey(digest)
    if (key === undefined) return ollamaError(reply, 400, "invalid digest format")
    if (ctx.blobs.has(key)) return reply.head(200, { "content-length": "0" })
    const got = `sha256:${createHash("sha256").update(raw ?? new Uint8Array()).digest("hex")}`
    if (got !== key) return ollamaError(reply, 400, `digest mismatch, expected ${key}, got ${got}`)
    ctx.blobs.add(key)
    return reply.head(201, { "content-length": "0" })
  })

export const push = (ctx: SimContext, reply: Reply, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const raw = str(body["model"]) || str(body["name"]) || ""
    if (raw === "") return yield* ollamaError(reply, 400, "model is required")
    const m = modelOf(ctx, normalizeModel(raw))
    const progress = makeProgress(reply, body["stream"] !== false)
    yield* progress.send({ status: "retrieving manifest" })
    if (m === undefined) return yield* progress.fail(`model '${raw}' not found`)
    const digest = `sha256:${m.spec.weights ?? m.spec.digest}`
    const total = m.spec.vramMb * 1_000_000
    yield* progress.send({ status: "starting upload", digest, total })
    yield* ctx.engine.sleepSim(total / 1e6)
    yield* progress.send({ status: "pushing manifest" })
    yield* progress.send({ status: "success" })
    yield* progress.end
  })

/** No cloud account on a simulated node. */
export const status = (_ctx: SimContext, reply: Reply) => sendJson(reply, 200, { cloud: { disabled: true, source: "none" } })
