/**
 * What `sollol` remembers of its own decisions, so a busy node's wait is its real one: when each request it sent to
 * a node started and should end, and which requests chose to wait for which node. Reconciled with the in-flight
 * counts on every decision; one instance per strategy, changed only inside one synchronous decision.
 */
import type { Candidate } from "../../domain/Candidate.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"

/** A request sent to a node: when it started, when it was expected to end (virtual ms), and its size. */
interface Running {
  readonly start: number
  readonly end: number
  readonly promptTokens: number
  readonly outputTokens: number
}

/** The request that has run longest on a node: how long so far, and how much work it is (all 0 for none). */
export interface LongestRunning {
  readonly elapsedMs: number
  readonly promptTokens: number
  readonly outputTokens: number
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** What the occupancy knows of the candidates of one decision, index-aligned with them (see `Occupancy`). */
export interface Occupied {
  /** Each candidate's known wait for a slot, ms (`waits`). */
  readonly waits: ReadonlyArray<number>
  /** Each candidate's running requests' expected remaining ms, summed (`remaining`). */
  readonly remaining: ReadonlyArray<number>
  /** Each candidate's longest-running request (`longestRunning`), for a node with no figures of its own. */
  readonly longest?: ReadonlyArray<LongestRunning | undefined>
}

interface Waiting {
  readonly node: NodeId
  readonly priority: number
  readonly arrivedAt: number
  readonly seenAt: number
}

export interface Occupancy {
  /**
   * Each candidate's wait for a slot in ms, index-aligned with `candidates`: 0 with a free slot, else when the
   * slot this request would get frees: its in-flight requests' expected ends, taken in order by the requests that
   * wait for that node ahead of this one (higher priority, or same priority and earlier), one round of
   * `roundMs(i)` per slot-full past the known ends. Reconciles the remembered ends with `inFlight` first.
   */
  readonly waits: (
    intent: RoutingIntent,
    candidates: ReadonlyArray<Candidate>,
    now: number,
    roundMs: (i: number) => number
  ) => ReadonlyArray<number>
  /**
   * After `waits`, for the same candidates (index-aligned; entries past their count are stale): the expected
   * remaining ms of the requests running on each, summed (the time one more stream would slow down).
   */
  readonly remaining: () => ReadonlyArray<number>
  /** `remaining()[i]`. */
  readonly remainingSum: (i: number) => number
  /**
   * After `waits`, for the same candidates (index-aligned; entries past their count are stale): the request sollol
   * sent there that has run longest so far, all zeros when none runs. A node nothing is known about is assumed
   * fast; a first request still running long after it would have ended at that speed says otherwise. The entries
   * are overwritten by the next `waits`.
   */
  readonly longestRunning: () => ReadonlyArray<LongestRunning>
  /** Records a decision: a request sent to a free slot ends at `endAt`; one sent to a full node waits for it. */
  readonly record: (intent: RoutingIntent, candidate: Candidate, now: number, endAt: number) => void
  /** Requests remembered as waiting (for tests and introspection). */
  readonly waitingCount: () => number
}

/** A wait not seen again for this long is forgotten (its request ended some other way). Default 60 s. */
export const FORGET_WAITING_MS = 60_000

/** Index of the request expected to end first (`xs` non-empty). */
const earliestEnd = (xs: ReadonlyArray<Running>): number => {
  let at = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]!.end < xs[at]!.end) at = i
  return at
}

/**
 * A running request's expected remaining ms: until its expected end; once past it, as long again as it is late
 * (a node slower than its figures, say one whose first answer has not come back, is not taken for free).
 */
export const remainingOf = (end: number, now: number): number => Math.abs(end - now)

export const makeOccupancy = (): Occupancy => {
  // node → the requests sollol sent there that may still run
  const ends = new Map<NodeId, Array<Running>>()
  const waiting = new Map<string, Waiting>()
  // per decision: waiters ahead of the request, by node
  const ahead = new Map<NodeId, number>()
  const sorted: Array<number> = []
  let remaining: Array<number> = []
  // one record per index, rewritten by every `waits` (no allocation per candidate per decision)
  const longest: Array<Mutable<LongestRunning>> = []
  // The registry lists nodes in the same order for every decision: the list found at an index last time is almost
  // always the one wanted there now, which spares a Map lookup per candidate (a third of a 1 000-node decision).
  // A node's list, once made, is never replaced, so a remembered one stays valid.
  const atIndex: Array<{ id: NodeId; list: Array<Running> } | undefined> = []

  const listOf = (id: NodeId): Array<Running> => {
    let list = ends.get(id)
    if (list === undefined) {
      list = []
      ends.set(id, list)
    }
    return list
  }

  const reconcile = (i: number, c: Candidate, now: number, fallbackEnd: number): Array<Running> => {
    let known = atIndex[i]
    if (known === undefined || known.id !== c.nodeId) {
      known = { id: c.nodeId, list: listOf(c.nodeId) }
      atIndex[i] = known
    }
    const list = known.list
    // the earliest expected end most likely finished first
    while (list.length > c.inFlight) list.splice(earliestEnd(list), 1)
    // in flight but not sent by this strategy (a retry's fallback, a restart): assume half-way done, size unknown
    while (list.length < c.inFlight) list.push({ start: now, end: Math.max(now, fallbackEnd), promptTokens: 0, outputTokens: 0 })
    return list
  }

  const countAhead = (intent: RoutingIntent, now: number) => {
    ahead.clear()
    for (const [id, w] of waiting) {
      if (id === intent.requestId) continue
      if (now - w.seenAt > FORGET_WAITING_MS) {
        waiting.delete(id)
        continue
      }
      const first = w.priority > intent.priority || (w.priority === intent.priority && w.arrivedAt < intent.arrivedAt)
      if (first) ahead.set(w.node, (ahead.get(w.node) ?? 0) + 1)
    }
  }

  return {
    waits: (intent, candidates, now, roundMs) => {
      countAhead(intent, now)
      // plain arrays: a small Float64Array costs microseconds to allocate (an off-heap backing store)
      const out = new Array<number>(candidates.length).fill(0)
      if (remaining.length < candidates.length) remaining = new Array<number>(candidates.length).fill(0)
      while (longest.length < candidates.length) longest.push({ elapsedMs: 0, promptTokens: 0, outputTokens: 0 })
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]!
        const round = Math.max(roundMs(i), 0)
        const list = reconcile(i, c, now, now + round / 2)
        const n = list.length
        let sum = 0
        let first: Running | undefined
        for (let j = 0; j < n; j++) {
          const r = list[j]!
          sum += remainingOf(r.end, now)
          if (r.outputTokens + r.promptTokens > 0 && (first === undefined || r.start < first.start)) first = r
        }
        remaining[i] = sum
        const l = longest[i]!
        l.elapsedMs = first === undefined ? 0 : now - first.start
        l.promptTokens = first?.promptTokens ?? 0
        l.outputTokens = first?.outputTokens ?? 0
        const slots = Math.max(1, c.slots)
        if (c.inFlight < slots) continue
        // the k-th slot to free (0-based) is this request's: those ahead take the earlier ones
        const k = (ahead.size === 0 ? 0 : ahead.get(c.nodeId) ?? 0) + c.inFlight - slots
        if (n === 0) {
          out[i] = round * (k + 1)
          continue
        }
        sorted.length = n
        let soonest = Infinity
        for (let j = 0; j < n; j++) {
          const left = remainingOf(list[j]!.end, now)
          sorted[j] = left
          if (left < soonest) soonest = left
        }
        if (k % n > 0) sorted.sort((a, b) => a - b)
        out[i] = (k % n > 0 ? sorted[k % n]! : soonest) + Math.floor(k / n) * round
      }
      return out
    },
    record: (intent, candidate, now, endAt) => {
      if (candidate.inFlight < Math.max(1, candidate.slots)) {
        waiting.delete(intent.requestId)
        listOf(candidate.nodeId).push({
          start: now,
          end: endAt,
          promptTokens: intent.promptTokens,
          outputTokens: intent.expectedOutputTokens
        })
      } else {
        waiting.set(intent.requestId, {
          node: candidate.nodeId,
          priority: intent.priority,
          arrivedAt: intent.arrivedAt,
          seenAt: now
        })
      }
    },
    remaining: () => remaining,
    remainingSum: (i) => remaining[i] ?? 0,
    longestRunning: () => longest,
    waitingCount: () => waiting.size
  }
}
