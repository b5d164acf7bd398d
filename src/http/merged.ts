/**
 * Endpoints answered from every node at once: `/api/tags` (union, deduplicated by name + digest), `/api/ps`
 * (union; one entry per model, the latest expiry), `/v1/models`. Dead nodes are skipped, never fatal.
 */
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { getJson } from "../actors/probe.js"
import { normalizeModel } from "../domain/Model.js"

const FANOUT_TIMEOUT = "3 seconds"

type Json = Record<string, unknown>

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** GETs `path` from every node; failed or slow nodes are left out. */
export const fanOutGet = (path: string) =>
  Effect.gen(function*() {
    const registry = yield* NodeRegistry
    const views = yield* registry.list
    const handles = views.flatMap((v) => {
      const h = registry.get(v.nodeId)
      return h._tag === "Some" ? [h.value] : []
    })
    const results = yield* Effect.forEach(
      handles,
      (h: NodeHandle) => Effect.option(Effect.map(getJson(h.upstream, path, FANOUT_TIMEOUT), (body) => ({ node: h.nodeId, body }))),
      { concurrency: "unbounded" }
    )
    return results.flatMap((r) => r._tag === "Some" ? [r.value] : [])
  })

const modelsOf = (body: unknown): Array<Json> =>
  isRecord(body) && Array.isArray(body.models) ? body.models.filter(isRecord) : []

export const mergedTags = Effect.map(fanOutGet("/api/tags"), (answers) => {
  const seen = new Map<string, Json>()
  for (const { body } of answers) {
    for (const m of modelsOf(body)) {
      const name = String(m.name ?? m.model ?? "")
      const key = `${normalizeModel(name)}@${String(m.digest ?? "")}`
      if (!seen.has(key)) seen.set(key, m)
    }
  }
  return { models: [...seen.values()] }
})

export const mergedPs = Effect.map(fanOutGet("/api/ps"), (answers) => {
  const byName = new Map<string, Json>()
  for (const { body } of answers) {
    for (const m of modelsOf(body)) {
      const name = normalizeModel(String(m.name ?? m.model ?? ""))
      const prev = byName.get(name)
      if (prev === undefined || String(m.expires_at ?? "") > String(prev.expires_at ?? "")) byName.set(name, m)
    }
  }
  return { models: [...byName.values()] }
})

const openAiModel = (m: Json) => {
  const name = String(m.name ?? m.model ?? "")
  const modified = Date.parse(String(m.modified_at ?? ""))
  const slash = name.lastIndexOf("/")
  return {
    id: name,
    object: "model",
    created: Number.isFinite(modified) ? Math.floor(modified / 1000) : 0,
    owned_by: slash > 0 ? name.slice(0, slash) : "library"
  }
}

export const openAiModels = Effect.map(mergedTags, (tags) => ({ object: "list", data: tags.models.map(openAiModel) }))

/** `GET /v1/models/{model}`: undefined when no node has it. */
export const openAiModel_ = (model: string) =>
  Effect.map(mergedTags, (tags) => {
    const wanted = normalizeModel(model)
    const found = tags.models.find((m) => normalizeModel(String(m.name ?? m.model ?? "")) === wanted)
    return found === undefined ? undefined : { ...openAiModel(found), id: model }
  })
