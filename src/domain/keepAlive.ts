/** Ollama's `keep_alive` field, read as `api.Duration.UnmarshalJSON` reads it. */

const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * `keep_alive` in ms (negative = forever): a number of seconds or a Go duration string (`5m`, `1h30m`, `-1m`);
 * absent = 5 minutes. A string without a unit is an error, as `time.ParseDuration` says.
 */
export const parseKeepAlive = (value: unknown): number | { readonly error: string } => {
  if (value === undefined || value === null) return 300_000
  if (typeof value === "number") return value * 1000
  if (typeof value !== "string") return { error: "json: cannot unmarshal keep_alive" }
  const m = /^([-+]?)((?:\d+(?:\.\d*)?(?:ns|us|µs|ms|s|m|h))+|0)$/.exec(value)
  if (m === null) {
    return { error: /^[-+]?\d+(\.\d*)?$/.test(value) ? `time: missing unit in duration "${value}"` : `time: invalid duration "${value}"` }
  }
  let ms = 0
  for (const part of (m[2] ?? "").matchAll(/(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(part[1]) * (units[part[2] ?? "s"] ?? 0)
  return m[1] === "-" ? -ms : ms
}
