/** Fault injection modes of a simulated node, and their parsing from CLI flags and `POST /__sim/fault`. */

export type Fault =
  | { readonly mode: "none" }
  /** Connections fail: in process `UpstreamError{reason:"Transport"}`, over HTTP the socket is destroyed. */
  | { readonly mode: "refuse" }
  /** Inference routes answer 500 `{"error":…}`. */
  | { readonly mode: "error500" }
  /** Requests are accepted and never answered (interruptible). */
  | { readonly mode: "hang" }
  /** Every simulated duration (load, prefill, decode) is multiplied by `factor`. */
  | { readonly mode: "slow"; readonly factor: number }
  /** Inference bodies stop after `afterChunks` chunks with a connection reset. */
  | { readonly mode: "truncate"; readonly afterChunks: number }
  /**
   * The model runner dies after `afterChunks` tokens, and the node says so as Ollama does: a 500 before any byte,
   * else one more `{"error": …}` line in a 200 stream (OpenAI routes: an empty delta, then the stream just ends).
   */
  | { readonly mode: "crash"; readonly afterChunks: number }
  /** Up for `periodMs` of simulated time, then down (like refuse) for `periodMs`, and so on, from when it was set. */
  | { readonly mode: "flap"; readonly periodMs: number }
  /** Inference routes answer Ollama's 503 "server busy". */
  | { readonly mode: "busy" }

export const noFault: Fault = { mode: "none" }

const positive = (n: unknown): number | undefined =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined

const nonNegativeInt = (n: unknown): number | undefined =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : undefined

/** Validates a JSON fault (`{"mode":"slow","factor":3}`); a missing argument takes a default. */
export const faultFromJson = (value: unknown): Fault | string => {
  if (typeof value !== "object" || value === null) return "fault must be an object with a mode"
  const v = value as Record<string, unknown>
  switch (v["mode"]) {
    case "none":
    case "refuse":
    case "error500":
    case "hang":
    case "busy":
      return { mode: v["mode"] }
    case "slow": {
      const factor = v["factor"] === undefined ? 5 : positive(v["factor"])
      return factor === undefined ? "slow needs a positive factor" : { mode: "slow", factor }
    }
    case "truncate":
    case "crash": {
      const mode = v["mode"]
      const afterChunks = v["afterChunks"] === undefined ? 3 : nonNegativeInt(v["afterChunks"])
      return afterChunks === undefined ? `${mode} needs a non-negative integer afterChunks` : { mode, afterChunks }
    }
    case "flap": {
      const periodMs = v["periodMs"] === undefined ? 10_000 : positive(v["periodMs"])
      return periodMs === undefined ? "flap needs a positive periodMs" : { mode: "flap", periodMs }
    }
    default:
      return `unknown fault mode ${JSON.stringify(v["mode"])}`
  }
}

/** Parses the CLI form `MODE[:ARG]`: `slow:3`, `truncate:5`, `crash:5`, `flap:2000`, `refuse`, … */
export const parseFault = (text: string): Fault | string => {
  const [mode, arg, ...rest] = text.split(":")
  if (rest.length > 0) return `bad fault ${JSON.stringify(text)}`
  const n = arg === undefined ? undefined : Number(arg)
  if (arg !== undefined && (arg === "" || Number.isNaN(n))) return `bad fault argument ${JSON.stringify(arg)}`
  const key = mode === "slow" ? "factor" : mode === "truncate" || mode === "crash" ? "afterChunks" : mode === "flap" ? "periodMs" : undefined
  if (n !== undefined && key === undefined) return `fault ${mode} takes no argument`
  return faultFromJson(key !== undefined && n !== undefined ? { mode, [key]: n } : { mode })
}
