/**
 * A ClientSink that keeps what the client would see of one simulated request: status, serving node, time of the
 * first body chunk and of the end, and whether the node had to load the model (its final `load_duration`).
 */
import type { ClientSink } from "../runtime/ClientSink.js"
import { makeTailTracker } from "../runtime/respond.js"

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

/** A recording sink for `outcome`; `now` reads the (virtual) clock. */
export const recordingSink = (outcome: RequestOutcome, now: () => number): ClientSink => {
  // the answer's last JSON object (the final NDJSON line, or the whole JSON body), read as the gateway reads it
  const tail = makeTailTracker()
  const keep = (chunk: Uint8Array | undefined) => {
    if (chunk === undefined || chunk.byteLength === 0) return
    if (outcome.firstChunkAt === undefined) outcome.firstChunkAt = now()
    tail.push(chunk)
  }
  const finish = (ok: boolean) => {
    outcome.endedAt = now()
    outcome.ok = ok
    const final = tail.lastJson()
    const load = typeof final === "object" && final !== null ? (final as { load_duration?: unknown }).load_duration : undefined
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
