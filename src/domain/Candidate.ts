/** What a strategy sees of a node: routable already, joined with its load and what was learned about it. */
import type { Health } from "./Health.js"
import type { NodeId } from "./NodeId.js"

/** Learned per (node, model) performance; absent until configured or observed. */
export interface NodeModelPerf {
  /** Prompt tokens per second. */
  readonly prefillTps: number
  /** Output tokens per second for one stream. */
  readonly decodeTps: number
  /** Model load time in ms. */
  readonly loadMs: number
  /** Time to first token in ms (without load). */
  readonly ttftMs: number
  /** Decayed success rate in [0, 1]. */
  readonly successRate: number
  /** Number of observations behind these figures. */
  readonly samples: number
}

export interface Candidate {
  readonly nodeId: NodeId
  readonly health: Exclude<Health, "excluded">
  /** True for healthy nodes (tag `preferred`). */
  readonly preferred: boolean
  /** Requests this gateway has in flight on the node. */
  readonly inFlight: number
  /** Parallel slots (configured or learned). */
  readonly slots: number
  /** Peak-EWMA latency in ms (tower's PeakEwma). */
  readonly ewmaMs: number
  /** The requested model is loaded on the node (from `/api/ps`). */
  readonly modelLoaded: boolean
  /**
   * The share of the node's loaded model memory that is in GPU memory (`size_vram / size` in `/api/ps`, the
   * requested model's own entry when it is loaded, else over every loaded model): 1 on a GPU, 0 when the node runs
   * models on its CPU, in between when a model is partly offloaded. Undefined while nothing is loaded there.
   */
  readonly gpuShare?: number | undefined
  /** The loaded runner's load options match the request's (unknown counts as a match). */
  readonly optionsMatch: boolean
  /** Failures in the recent window (decayed). */
  readonly recentFailures: number
  /** Learned figures for (node, requested model), if any. */
  readonly perf: NodeModelPerf | undefined
}
