/**
 * Which names Ollama accepts for a model it writes (types/model/name.go `ParseName` then `IsValid`):
 * `[host/][namespace/]model[:tag]`, the parts left out filled with `registry.ollama.ai`, `library` and `latest`.
 * Lookups stay `normalizeModel`'s (case-insensitive, `:latest` added), as everywhere in the simulator.
 */

/** What `cutPromised` puts in a part left empty around a separator; its `!` makes the name invalid. */
const MISSING = "!MISSING"

type Part = "host" | "namespace" | "model" | "tag"

/** `isValidPart`: 1–80 characters (a host up to 350), starting alphanumeric or `_`, then `_ - .` (`.` not in a namespace) and `:` in a host. */
const validPart = (part: Part, s: string): boolean => {
  if (s.length < 1 || s.length > (part === "host" ? 350 : 80)) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i)
    if (/[A-Za-z0-9_]/.test(c)) continue
    if (i === 0) return false
    if (c === "-" || (c === "." && part !== "namespace") || (c === ":" && part === "host")) continue
    return false
  }
  return true
}

/** Splits at the last `sep`: before and after, each `MISSING` when empty; `undefined` without `sep`. */
const cutLast = (s: string, sep: string): readonly [string, string] | undefined => {
  const i = s.lastIndexOf(sep)
  return i < 0 ? undefined : [s.slice(0, i) || MISSING, s.slice(i + sep.length) || MISSING]
}

export const isValidName = (name: string): boolean => {
  let rest = name
  let [host, namespace, model, tag] = ["registry.ollama.ai", "library", "", "latest"]
  // `/` cannot be in a tag, so a `:` after the last `/` starts one (an earlier `:` belongs to a host's port).
  const withTag = rest.lastIndexOf(":") > rest.lastIndexOf("/") ? cutLast(rest, ":") : undefined
  if (withTag !== undefined) [rest, tag] = withTag
  const withNamespace = cutLast(rest, "/")
  if (withNamespace === undefined) model = rest
  else {
    ;[rest, model] = withNamespace
    const withHost = cutLast(rest, "/")
    if (withHost === undefined) namespace = rest
    else {
      ;[rest, namespace] = withHost
      const scheme = rest.indexOf("://")
      host = scheme < 0 ? rest : rest.slice(scheme + 3)
    }
  }
  return validPart("host", host) && validPart("namespace", namespace) && validPart("model", model) && validPart("tag", tag)
}

/** Go's `%q` of a string, near enough for names: double quotes, JSON escapes. */
export const goQuote = (s: string): string => JSON.stringify(s)
