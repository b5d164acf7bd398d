/**
 * How Go's JSON decoder (gin's `ShouldBindJSON`, which Ollama's handlers use) words a field of the wrong kind: shared
 * by the simulated nodes, which answer as Ollama does, and by the gateway, which refuses such a body before fanning it
 * out.
 */

/** Go types of request fields whose JSON kind `json.Unmarshal` checks. */
export type GoField =
  | "string"
  | "bool"
  | "int"
  | "float64"
  | "map[string]string"
  | "map[string]interface {}"
  | "[]api.Message"

const jsonKind = (v: unknown): string =>
  Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v

/**
 * The error `ShouldBindJSON` gives for the first field (in the body's order) of the wrong JSON kind, e.g.
 * `json: cannot unmarshal number into Go struct field CopyRequest.source of type string`. `null` decodes to nothing.
 */
export const bindError = (
  struct: string,
  body: Record<string, unknown>,
  fields: Readonly<Record<string, GoField>>
): string | undefined => {
  const wrong = (field: string, v: unknown, type: string) =>
    `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type ${type}`
  for (const [field, v] of Object.entries(body)) {
    const type = fields[field]
    if (type === undefined || v === null) continue
    if (type === "string" || type === "bool") {
      if (jsonKind(v) !== type) return wrong(field, v, type)
      continue
    }
    if (type === "int" || type === "float64") {
      if (typeof v !== "number") return wrong(field, v, type)
      // Go names the number it could not fit: `number 5.5 into … of type int`
      if (type === "int" && !Number.isInteger(v)) return wrong(field, v, type).replace("number", `number ${v}`)
      continue
    }
    if (type === "[]api.Message") {
      if (!Array.isArray(v)) return wrong(field, v, type)
      const bad = messageError(field, v)
      if (bad !== undefined) return bad
      continue
    }
    const map = typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
    if (map === undefined) return wrong(field, v, type)
    const bad = type === "map[string]string" ? Object.values(map).find((x) => x !== null && typeof x !== "string") : undefined
    if (bad !== undefined) return wrong(field, bad, "string")
  }
  return undefined
}

/**
 * A chat message of the wrong kind, as Go words it: the element (`… ChatRequest.messages of type api.Message`), or
 * its `role` (`… Message.messages.role of type string`: Go names the innermost struct and the path from the top).
 */
const messageError = (field: string, messages: ReadonlyArray<unknown>): string | undefined => {
  for (const m of messages) {
    if (m === null) continue
    if (typeof m !== "object" || Array.isArray(m)) {
      return `json: cannot unmarshal ${jsonKind(m)} into Go struct field ChatRequest.${field} of type api.Message`
    }
    const role = (m as Record<string, unknown>).role
    if (role !== undefined && role !== null && typeof role !== "string") {
      return `json: cannot unmarshal ${jsonKind(role)} into Go struct field Message.${field}.role of type string`
    }
  }
  return undefined
}

/** Ollama's native request structs (`api/types.go`) and the fields of each whose JSON kind Go's decoder checks. */
export const NATIVE_REQUESTS = {
  chat: { struct: "ChatRequest", fields: { model: "string", messages: "[]api.Message", stream: "bool", options: "map[string]interface {}" } },
  generate: {
    struct: "GenerateRequest",
    fields: { model: "string", prompt: "string", system: "string", stream: "bool", options: "map[string]interface {}" }
  },
  embed: { struct: "EmbedRequest", fields: { model: "string", options: "map[string]interface {}" } },
  embeddings: { struct: "EmbeddingRequest", fields: { model: "string", prompt: "string", options: "map[string]interface {}" } },
  show: { struct: "ShowRequest", fields: { model: "string", name: "string" } }
} as const satisfies Record<string, { readonly struct: string; readonly fields: Readonly<Record<string, GoField>> }>

export type NativeRoute = keyof typeof NATIVE_REQUESTS

/** `bindError` for one of Ollama's native routes. */
export const nativeBindError = (route: NativeRoute, body: Record<string, unknown>): string | undefined =>
  bindError(NATIVE_REQUESTS[route].struct, body, NATIVE_REQUESTS[route].fields)
