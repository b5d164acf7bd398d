/** Candidate and intent builders for strategy tests. */
import { Effect, Option } from "effect"
import type { Candidate } from "../../src/domain/Candidate.js"
import type { Pick } from "../../src/domain/Decision.js"
import { NodeId } from "../../src/domain/NodeId.js"
import type { RoutingIntent } from "../../src/domain/Request.js"
import { Strategy } from "../../src/strategies/Strategy.js"

export const candidate = (id: string, overrides: Partial<Omit<Candidate, "nodeId">> = {}): Candidate => ({
  nodeId: NodeId(id),
  health: "healthy",
  preferred: true,
  inFlight: 0,
  slots: 4,
  ewmaMs: 100,
  modelLoaded: true,
  optionsMatch: true,
  recentFailures: 0,
  perf: undefined,
  ...overrides
})

export const intent: RoutingIntent = {
  requestId: "req-1",
  kind: "chat",
  model: "llama3.2:latest",
  stream: false,
  priority: 5,
  taskType: "generation",
  complexity: "simple",
  promptTokens: 12,
  conversationDepth: 1,
  expectedOutputTokens: 64,
  loadOptions: {},
  affinityKey: undefined,
  unloadsModel: false,
  unloadOnly: false,
  arrivedAt: 0,
  upstream: { method: "POST", path: "/api/chat", headers: {}, body: undefined }
}

/** The pick for `candidates`, failing the test when the strategy returns None. */
export const choose = (candidates: ReadonlyArray<Candidate>) =>
  Effect.flatMap(Strategy, (s) => s.choose(intent, candidates)).pipe(
    Effect.map(Option.getOrThrowWith(() => new Error("expected a pick"))),
    Effect.orDie
  )

/** `n` picks in a row, as node ids. */
export const chooseMany = (candidates: ReadonlyArray<Candidate>, n: number) =>
  Effect.forEach(
    Array.from({ length: n }),
    () => Effect.map(choose(candidates), (p: Pick): string => p.candidate.nodeId)
  )

export const countBy = (ids: ReadonlyArray<string>): Record<string, number> =>
  ids.reduce<Record<string, number>>((acc, id) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }), {})
