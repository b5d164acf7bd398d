/**
 * A rolling window of finished requests per node (the last minute by default), for live success rates, latency
 * percentiles and throughput: the dashboard's and the alerts' view of "now", which cumulative counters cannot give.
 */
import type { DecisionRecord } from "../runtime/DecisionLog.js"

export interface Sample {
  /** Epoch ms the request finished. */
  readonly end: number
  readonly ok: boolean
  readonly durationMs: number
}

export interface WindowStats {
  readonly requests: number
  /** Share of requests that ended "ok"; 1 with no requests. */
  readonly successRate: number
  /** Percentiles of the duration of successful requests; 0 with none. */
  readonly p50Ms: number
  readonly p95Ms: number
  /** Requests finished per second over the window. */
  readonly rps: number
}

export interface RequestWindow {
  readonly add: (d: DecisionRecord) => void
  /** Drops samples older than `now - windowMs`; returns stats per node and over all nodes. */
  readonly stats: (now: number) => { readonly all: WindowStats; readonly byNode: Readonly<Record<string, WindowStats>> }
}

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

export const summarize = (samples: ReadonlyArray<Sample>, windowMs: number): WindowStats => {
  const okDurations = samples.filter((s) => s.ok).map((s) => s.durationMs).sort((a, b) => a - b)
  return {
    requests: samples.length,
    successRate: samples.length === 0 ? 1 : okDurations.length / samples.length,
    p50Ms: percentile(okDurations, 0.5),
    p95Ms: percentile(okDurations, 0.95),
    rps: samples.length / (windowMs / 1_000)
  }
}

/** `windowMs` default 60 000; about `maxPerNode` samples (default 5 000, at most 25 % more) are kept per node. */
export const makeRequestWindow = (windowMs = 60_000, maxPerNode = 5_000): RequestWindow => {
  const byNode = new Map<string, Array<Sample>>()
  return {
    add: (d) => {
      // a client that left, or a request refused at the edge, says nothing about the node's health
      if (d.outcome === "aborted" || d.outcome === "refused") return
      const key = d.node ?? "none"
      const list = byNode.get(key) ?? []
      list.push({ end: d.at + d.durationMs, ok: d.outcome === "ok", durationMs: d.durationMs })
      // Trimmed in batches (a quarter of the cap at a time), so a busy node pays O(1) per request, not a shift.
      if (list.length > maxPerNode + (maxPerNode >> 2)) list.splice(0, list.length - maxPerNode)
      byNode.set(key, list)
    },
    stats: (now) => {
      const all: Array<Sample> = []
      const out: Record<string, WindowStats> = {}
      for (const [node, list] of byNode) {
        const firstKept = list.findIndex((s) => s.end >= now - windowMs)
        list.splice(0, firstKept < 0 ? list.length : firstKept)
        if (list.length === 0) {
          byNode.delete(node)
          continue
        }
        out[node] = summarize(list, windowMs)
        all.push(...list)
      }
      return { all: summarize(all, windowMs), byNode: out }
    }
  }
}
