/** Figures of a simulated run (latency, TTFT, throughput, shares, model locality, waits by priority) and their table. */
import type { RunResult } from "./harness.js"

export interface Summary {
  readonly strategy: string
  readonly requests: number
  readonly ok: number
  readonly successRate: number
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p95: number; readonly p99: number }
  readonly ttftMs: { readonly mean: number; readonly p95: number }
  /** Successful requests per second of virtual time, first arrival to last completion. */
  readonly throughput: number
  /** Share of the successful requests each node answered (sums to 1 when any succeeded). */
  readonly nodeShare: Readonly<Record<string, number>>
  /** Share of successful requests served by a node that had the model loaded (no load in the answer's timings). */
  readonly loadedHitRate: number
  readonly waitByPriority: ReadonlyArray<{ readonly priority: number; readonly count: number; readonly meanMs: number; readonly maxMs: number }>
  readonly agingIntervalMs: number
  /**
   * Expected p95 of ideal service time on this workload (`idealQuantileMs`): on a large run, a floor no strategy
   * gets below by more than sampling noise. Set by `simulate`.
   */
  readonly idealP95Ms?: number
}

/** Nearest-rank percentile of an ascending array; 0 for none. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

const mean = (xs: ReadonlyArray<number>): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length

/** Requests from which a run's p95 is close enough to its expectation to compare with the ideal (±~3 %). */
const LARGE_RUN = 1_000

export const summarize = (run: RunResult): Summary => {
  const ok = run.outcomes.filter((o) => o.ok && o.endedAt !== undefined)
  const latency = ok.map((o) => o.endedAt! - o.arrivedAt).sort((a, b) => a - b)
  const ttft = ok.flatMap((o) => o.firstChunkAt !== undefined ? [o.firstChunkAt - o.arrivedAt] : []).sort((a, b) => a - b)
  const share: Record<string, number> = {}
  for (const o of ok) if (o.node !== undefined) share[o.node] = (share[o.node] ?? 0) + 1
  const known = ok.filter((o) => o.coldLoad !== undefined)
  const byPriority = new Map<number, Array<number>>()
  for (const o of run.outcomes) byPriority.set(o.priority, [...(byPriority.get(o.priority) ?? []), o.queueWaitMs])
  return {
    strategy: run.strategy,
    requests: run.outcomes.length,
    ok: ok.length,
    successRate: run.outcomes.length === 0 ? 0 : ok.length / run.outcomes.length,
    latencyMs: { mean: mean(latency), p50: percentile(latency, 0.5), p95: percentile(latency, 0.95), p99: percentile(latency, 0.99) },
    ttftMs: { mean: mean(ttft), p95: percentile(ttft, 0.95) },
    throughput: run.spanMs > 0 ? ok.length / (run.spanMs / 1000) : 0,
    nodeShare: Object.fromEntries(Object.entries(share).sort().map(([k, v]) => [k, v / Math.max(1, ok.length)])),
    loadedHitRate: known.length === 0 ? 0 : known.filter((o) => o.coldLoad === false).length / known.length,
    waitByPriority: [...byPriority.entries()].sort((a, b) => b[0] - a[0]).map(([priority, waits]) => ({
      priority,
      count: waits.length,
      meanMs: mean(waits),
      maxMs: Math.max(0, ...waits)
    })),
    agingIntervalMs: run.agingIntervalMs
  }
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)}s`
const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/** The text table `sollol simulate` prints: one block per strategy, then ratios against round-robin. */
export const formatSummaries = (header: string, summaries: ReadonlyArray<Summary>, withWaits: boolean): string => {
  const lines = [header, ""]
  const row = (cells: ReadonlyArray<string>) => cells.map((c, i) => i === 0 ? c.padEnd(14) : c.padStart(9)).join(" ")
  lines.push(row(["strategy", "ok", "mean", "p50", "p95", "p99", "ttft", "ttft p95", "req/s", "loaded"]))
  for (const s of summaries) {
    lines.push(row([
      s.strategy,
      pct(s.successRate),
      sec(s.latencyMs.mean),
      sec(s.latencyMs.p50),
      sec(s.latencyMs.p95),
      sec(s.latencyMs.p99),
      sec(s.ttftMs.mean),
      sec(s.ttftMs.p95),
      s.throughput.toFixed(2),
      pct(s.loadedHitRate)
    ]))
  }
  const ideal = summaries[0]?.idealP95Ms
  if (ideal !== undefined) {
    const rr = summaries.find((s) => s.strategy === "round-robin")
    // The ideal is the expectation over the output-length distribution: a small run's drawn lengths can fall
    // below it, so it reads as a floor only on a large one.
    const large = (summaries[0]?.requests ?? 0) >= LARGE_RUN
    const half = rr === undefined ? "" : `; 0.5 × round-robin p95 = ${sec(rr.latencyMs.p95 / 2)}${
      large && rr.latencyMs.p95 / 2 < ideal ? " (below the ideal: out of reach)" : ""
    }`
    lines.push("", `ideal p95 (expected, each request alone on the fastest node, model loaded): ${sec(ideal)}${half}`)
  }
  lines.push("", "node share (of the successful requests):")
  for (const s of summaries) {
    lines.push(`  ${s.strategy.padEnd(14)} ${Object.entries(s.nodeShare).map(([n, v]) => `${n} ${pct(v)}`).join(", ")}`)
  }
  const base = summaries.find((s) => s.strategy === "round-robin")
  if (base !== undefined && base.latencyMs.mean > 0) {
    lines.push("", "against round-robin (latency ratio, lower is better):")
    for (const s of summaries.filter((x) => x !== base)) {
      lines.push(`  ${s.strategy.padEnd(14)} mean ×${(s.latencyMs.mean / base.latencyMs.mean).toFixed(2)}, p95 ×${
        (s.latencyMs.p95 / Math.max(1, base.latencyMs.p95)).toFixed(2)
      }, loaded ${pct(s.loadedHitRate)} vs ${pct(base.loadedHitRate)}`)
    }
  }
  if (withWaits) {
    for (const s of summaries) {
      lines.push("", `queue wait by priority, ${s.strategy} (aging interval ${sec(s.agingIntervalMs)}):`)
      for (const w of s.waitByPriority) {
        // past this wait no newcomer outranks the request any more (effective priority = p + waited / aging)
        const horizon = (10 - w.priority) * s.agingIntervalMs
        lines.push(`  p${String(w.priority).padEnd(3)} n=${String(w.count).padEnd(5)} mean ${sec(w.meanMs)}  max ${
          sec(w.maxMs)
        }  (aging horizon ${sec(horizon)})`)
      }
    }
  }
  return lines.join("\n")
}
