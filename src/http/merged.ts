/**
 * Endpoints answered from every node at once: `/api/tags` (union, deduplicated by name + digest), `/api/ps`
 * (union; one entry per model, the latest expiry), `/v1/models`. Dead nodes are skipped, never fatal. Each answer
 * says how many nodes were asked and which answered, for the X-SOLLOL-* headers.
 */
import { Effect } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { getJson } from "../actors/probe.js"
import { normalizeModel } from "../domain/Model.js"
import type { NodeId } from "../domain/NodeId.js"

const FANOUT_TIMEOUT = "3 seconds"

type Json = Record<string, unknown>

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** A merged answer: its body, how many nodes were asked and the ones that answered. */
export interface Merged<A> {
  readonly body: A
  readonly asked: number
  readonly answered: ReadonlyArray<NodeId>
}

/** GETs `path` from every node; failed or slow nodes are left out of `answers`. */
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
    return { asked: handles.length, answers: results.flatMap((r) => r._tag === "Some" ? [r.value] : []) }
  })

const merged = <A>(
  fanned: { readonly asked: number; readonly answers: ReadonlyArray<{ readonly node: NodeId }> },
  body: A
): Merged<A> => ({ body, asked: fanned.asked, answered: fanned.answers.map((a) => a.node) })

const modelsOf = (body: unknown): Array<Json> =>
  isRecord(body) && Array.isArray(body.models) ? body.models.filter(isRecord) : []

export const mergedTags = Effect.map(fanOutGet("/api/tags"), (fanned) => {
  const seen = new Map<string, Json>()
  for (const { body } of fanned.answers) {
    for (const m of modelsOf(body)) {
      const name = String(m.name ?? m.model ?? "")
      const key = `${normalizeModel(name)}@${String(m.digest ?? "")}`
      if (!seen.has(key)) seen.set(key, m)
    }
  }
  return merged(fanned, { models: [...seen.values()] })
})

export const mergedPs = Effect.map(fanOutGet("/api/ps"), (fanned) => {
  // A model loaded on several nodes shows once, with its latest expiry; the list is sorted as Ollama sorts it,
  // latest expiry first. Times carry offsets and fractions of varying length: compared as instants, not strings.
  const byName = new Map<string, { readonly model: Json; readonly expires: number }>()
  for (const { body } of fanned.answers) {
    for (const m of modelsOf(body)) {
      const name = normalizeModel(String(m.name ?? m.model ?? ""))
      const expires = expiryOf(m)
      const prev = byName.get(name)
      if (prev === undefined || expires > prev.expires) byName.set(name, { model: m, expires })
    }
  }
  const models = [...byName.values()].sort((a, b) => b.expires - a.expires).map((e) => e.model)
  return merged(fanned, { models })
})

/** An `/api/ps` entry's `expires_at` as ms since the epoch (unparseable: never). */
const expiryOf = (m: Json): number => {
  const t = Date.parse(String(m.expires_at ?? ""))
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t
}

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

export const openAiModels = Effect.map(mergedTags, (tags) => ({
  ...tags,
  body: { object: "list", data: tags.body.models.map(openAiModel) }
}))

/** `GET /v1/models/{model}`: the body is undefined when no node has it. */
export const openAiModel_ = (model: string) =>
  Effect.map(mergedTags, (tags) => {
    const wanted = normalizeModel(model)
    const found = tags.body.models.find((m) => normalizeModel(String(m.name ?? m.model ?? "")) === wanted)
    return { ...tags, body: found === undefined ? undefined : { ...openAiModel(found), id: model } }
  })
