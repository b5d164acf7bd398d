/** Shared figures for the sollol tests: a fast, a mid and a slow node, and intents of a known size. */
import type { Candidate, NodeModelPerf } from "../../../src/domain/Candidate.js"
import type { RoutingIntent } from "../../../src/domain/Request.js"
import { candidate, intent } from "../fixtures.js"

export const perf = (prefillTps: number, decodeTps: number, loadMs: number, more: Partial<NodeModelPerf> = {}) => ({
  prefillTps,
  decodeTps,
  loadMs,
  ttftMs: 100,
  successRate: 1,
  samples: 20,
  ...more
})

/** 200 prompt tokens, 100 output tokens. */
export const work: RoutingIntent = { ...intent, promptTokens: 200, expectedOutputTokens: 100 }

/** Idle, loaded: 0.1 s prefill + 1.0 s decode = 1.1 s; 3 s to load. */
export const fast = (o: Partial<Omit<Candidate, "nodeId">> = {}) =>
  candidate("fast", { ewmaMs: 0, perf: perf(2000, 100, 3000), ...o })
/** 0.2 s prefill + 1.2 s decode = 1.4 s. */
export const mid = (o: Partial<Omit<Candidate, "nodeId">> = {}) =>
  candidate("mid", { ewmaMs: 0, perf: perf(1000, 100 / 1.2, 6000), ...o })
/** 0.4 s prefill + 4.0 s decode = 4.4 s. */
export const slow = (o: Partial<Omit<Candidate, "nodeId">> = {}) =>
  candidate("slow", { ewmaMs: 0, perf: perf(500, 25, 10_000), ...o })
