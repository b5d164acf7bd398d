/**
 * A ClientSink that keeps what the client would see of one simulated request: status, serving node, time of the
 * first body chunk and of the end, and whether the node had to load the model (its final `load_duration`).
 */
import { makeLineSplitter } from "../domain/ndjson.js"
import type { ClientSink } from "../runtime/ClientSink.js"

export interface RequestOutcome {
  readonly index: number
  readonly priority: number
  readonly model: string
  arrivedAt: number
  /** 0 while unanswered. */
  status: number
  node: string | undefined
  firstChunkAt: number | undefined
  endedAt: number | undefined
  ok: boolean
  /** From the answer's `load_duration`: > 0 means the node loaded the model for it. */
  coldLoad: boolean | undefined
  /** Filled from the decision log: time spent in the admission queue. */
  queueWaitMs: number
}

/** The answer's last JSON object: the final NDJSON line, or the whole JSON body. */
const parseObject = (line: string): Record<string, unknown> | undefined => {
  try {
    const parsed: unknown = JSON.parse(line)
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? parsed as Record<string, unknown>
      : undefined
  } catch {
    return undefined
  }
}

/** A recording sink for `outcome`; `now` reads the (virtual) clock. */
export const recordingSink = (outcome: RequestOutcome, now: () => number): ClientSink => {
  // only the last complete line and the one being received are kept
  let lastLine = ""
  const lines = makeLineSplitter((line) => {
    lastLine = line.trim()
  })
  const keep = (chunk: Uint8Array | undefined) => {
    if (chunk === undefined || chunk.byteLength === 0) return
    if (outcome.firstChunkAt === undefined) outcome.firstChunkAt = now()
    lines.push(chunk)
  }
  const finish = (ok: boolean) => {
    outcome.endedAt = now()
    outcome.ok = ok
    lines.flush()
    const final = parseObject(lastLine)
    const load = final?.load_duration
    outcome.coldLoad = typeof load === "number" ? load > 0 : undefined
  }
  return {
    framing: "ndjson",
    start: (status, headers) => {
      outcome.status = status
      const node = headers["x-sollol-node"]
      outcome.node = typeof node === "string" ? node : undefined
    },
    write: (chunk) => {
      keep(chunk)
      return true
    },
    end: (last) => {
      keep(last)
      finish(outcome.status >= 200 && outcome.status < 300)
    },
    fail: () => finish(false),
    reject: (error, headers) => {
      outcome.status = error._tag === "QueueFull" || error._tag === "NoCandidates" ? 503 : 502
      const node = headers["x-sollol-node"]
      outcome.node = typeof node === "string" ? node : undefined
      finish(false)
    }
  }
}
