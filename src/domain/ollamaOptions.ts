/**
 * The types of Ollama's request `options` (api/types.go: `Options` and its embedded `Runner`) and the check
 * `Options.FromMap` makes before a model is scheduled. Unknown keys and `null` values are ignored, as there; a value
 * of the wrong type is refused with Ollama's own words. Shared by the gateway (which refuses such a request itself,
 * so a client's mistake never counts against a node) and the simulator (which answers as Ollama does).
 */

type OptionType = "integer" | "float32" | "boolean" | "strings"

const integer: ReadonlyArray<string> = [
  "num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "mirostat",
  "num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread"
]
const float32: ReadonlyArray<string> = [
  "top_p", "min_p", "tfs_z", "typical_p", "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty",
  "mirostat_tau", "mirostat_eta"
]
const boolean: ReadonlyArray<string> = [
  "penalize_newline", "numa", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mmap", "use_mlock"
]

const optionTypes: ReadonlyMap<string, OptionType> = new Map<string, OptionType>([
  ...integer.map((k) => [k, "integer"] as const),
  ...float32.map((k) => [k, "float32"] as const),
  ...boolean.map((k) => [k, "boolean"] as const),
  ["stop", "strings"]
])

/** Why `FromMap` would refuse `value` for an option of `type`, in its words; undefined when it accepts it. */
const refusal = (key: string, type: OptionType, value: unknown): string | undefined => {
  switch (type) {
    case "integer":
    case "float32":
      return typeof value === "number" ? undefined : `option "${key}" must be of type ${type}`
    case "boolean":
      return typeof value === "boolean" ? undefined : `option "${key}" must be of type boolean`
    case "strings":
      if (!Array.isArray(value)) return `option "${key}" must be of type array`
      return value.every((s) => typeof s === "string") ? undefined : `option "${key}" must be of an array of strings`
  }
}

/**
 * The first option Ollama would refuse, as its error text (e.g. `option "num_predict" must be of type integer`);
 * undefined when every known option has a value of its type. `options` is the request's `options` object.
 */
export const optionsError = (options: Readonly<Record<string, unknown>>): string | undefined => {
  for (const key in options) {
    const type = optionTypes.get(key)
    const value = options[key]
    if (type === undefined || value === null || value === undefined) continue
    const why = refusal(key, type, value)
    if (why !== undefined) return why
  }
  return undefined
}
