/**
 * The decision log: a bounded ring of recent routing decisions (what was chosen, among what, why, and how it
 * ended), served at /api/sollol/decisions and pushed to the event stream.
 */
import { Context, Effect, Layer, PubSub } from "effect"
import type { Factor, ScoredCandidate } from "../domain/Decision.js"
import { isEmbeddingKind } from "../domain/Request.js"
import type { Complexity, RequestKind, TaskType } from "../domain/Request.js"

export interface DecisionRecord {
  readonly requestId: string
  /** Epoch ms on Effect's clock when the request arrived. */
  readonly at: number
  readonly kind: RequestKind
  readonly model: string
  readonly taskType: TaskType
  readonly complexity: Complexity
  readonly priority: number
  readonly strategy: string
  /** The node that answered (or the last one tried); null when none was picked. */
  readonly node: string | null
  readonly score: number | null
  readonly factors: ReadonlyArray<Factor>
  readonly candidates: ReadonlyArray<ScoredCandidate>
  readonly reasoning: string
  readonly queueWaitMs: number
  readonly attempts: number
  readonly hedged: boolean
  /** `refused`: answered by the gateway before any node was asked (bad body, priority, auth, rate limit). */
  readonly outcome: "ok" | "error" | "aborted" | "refused"
  readonly status: number
  readonly error: string | undefined
  readonly durationMs: number
  readonly ttftMs: number | undefined
  /** Tokens the node reported generating (`eval_count`), when it did. */
  readonly outputTokens?: number | undefined
}

export interface OutcomeCounts {
  ok: number
  error: number
  aborted: number
  refused: number
  totalDurationMs: number
}

export interface DecisionTotals {
  readonly all: OutcomeCounts
  readonly byNode: Readonly<Record<string, OutcomeCounts>>
  readonly byModel: Readonly<Record<string, OutcomeCounts>>
}

export class DecisionLog extends Context.Tag("sollol/DecisionLog")<DecisionLog, {
  readonly record: (decision: DecisionRecord) => Effect.Effect<void>
  /** Newest first. */
  readonly recent: (limit?: number) => Effect.Effect<ReadonlyArray<DecisionRecord>>
  readonly get: (requestId: string) => Effect.Effect<DecisionRecord | undefined>
  /** Counts since start, by outcome, node and model. */
  readonly totals: Effect.Effect<DecisionTotals>
  /** Recent decisions for streaming consumers (sliding: a slow consumer loses old ones, never blocks). */
  readonly pubsub: PubSub.PubSub<DecisionRecord>
  /**
   * Registers a synchronous listener called for every decision, in order, none dropped (for counters such as
   * metrics). Returns the effect that removes it.
   */
  readonly listen: (listener: (decision: DecisionRecord) => void) => Effect.Effect<Effect.Effect<void>>
}>() {}

export const make = (capacity = 1_000) =>
  Effect.map(PubSub.sliding<DecisionRecord>(256), (pubsub) => {
    // A ring buffer: `next` is where the next record goes.
    const ring: Array<DecisionRecord | undefined> = new Array(capacity).fill(undefined)
    let next = 0
    const zero = (): OutcomeCounts => ({ ok: 0, error: 0, aborted: 0, refused: 0, totalDurationMs: 0 })
    const all = zero()
    const byNode: Record<string, OutcomeCounts> = {}
    const byModel: Record<string, OutcomeCounts> = {}
    const listeners = new Set<(decision: DecisionRecord) => void>()
    const count = (c: OutcomeCounts, d: DecisionRecord) => {
      c[d.outcome] += 1
      c.totalDurationMs += d.durationMs
    }
    const newestFirst = () => {
      const out: Array<DecisionRecord> = []
      for (let i = 1; i <= capacity; i++) {
        const d = ring[(next - i + capacity) % capacity]
        if (d === undefined) break
        out.push(d)
      }
      return out
    }
    return DecisionLog.of({
      record: (decision) =>
        Effect.sync(() => {
          // A request without a valid key (401) is counted and logged, but kept out of the ring and the event
          // stream: a flood of them must not push the cluster's real decisions out.
          const anonymous = decision.outcome === "refused" && decision.status === 401
          if (!anonymous) {
            ring[next] = decision
            next = (next + 1) % capacity
          }
          count(all, decision)
          count(byNode[decision.node ?? "none"] ??= zero(), decision)
          // by the model a node served: a name no node answered for is the client's, and would grow the map for ever
          count(byModel[decision.node === null ? "unknown" : decision.model] ??= zero(), decision)
          for (const listener of listeners) listener(decision)
          // Sliding: never blocks, so offering synchronously is the same as `PubSub.publish`, without its fiber ops.
          if (!anonymous) pubsub.unsafeOffer(decision)
        }),
      recent: (limit = 100) => Effect.sync(() => newestFirst().slice(0, limit)),
      get: (requestId) => Effect.sync(() => newestFirst().find((d) => d.requestId === requestId)),
      totals: Effect.sync(() => structuredClone({ all, byNode, byModel })),
      pubsub,
      listen: (listener) =>
        Effect.sync(() => {
          listeners.add(listener)
          return Effect.sync(() => void listeners.delete(listener))
        })
    })
  })

export const layer = (capacity?: number) => Layer.effect(DecisionLog, make(capacity))

/** What is known of a request the gateway refused at its edge: its route, and its body's fields if it parsed. */
export interface Refusal {
  readonly requestId: string
  readonly at: number
  readonly kind: RequestKind
  /** Normalised model name; "" when the body did not get that far. */
  readonly model: string
  readonly priority: number
  readonly status: number
  readonly error: string
  /** The analysis, when the refusal came after it (auth, rate limits). */
  readonly taskType?: TaskType
  readonly complexity?: Complexity
}

/** The decision record of a refused request: no strategy ran and no node was asked. */
export const refusalRecord = (r: Refusal): DecisionRecord => ({
  requestId: r.requestId,
  at: r.at,
  kind: r.kind,
  model: r.model,
  taskType: r.taskType ?? (isEmbeddingKind(r.kind) ? "embedding" : "generation"),
  complexity: r.complexity ?? "simple",
  priority: r.priority,
  strategy: "",
  node: null,
  score: null,
  factors: [],
  candidates: [],
  reasoning: `refused at the edge: ${r.error}`,
  queueWaitMs: 0,
  attempts: 0,
  hedged: false,
  outcome: "refused",
  status: r.status,
  error: r.error,
  durationMs: 0,
  ttftMs: undefined
})
