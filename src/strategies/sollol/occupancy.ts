/**
 * What `sollol` remembers of its own decisions, so a busy node's wait is its real one: when each request it sent to
 * a node should end, and which requests chose to wait for which node. Reconciled with the in-flight counts on every
 * decision; one instance per strategy, changed only inside one synchronous decision.
 */
import type { Candidate } from "../../domain/Candidate.js"
import type { NodeId } from "../../domain/NodeId.js"
import type { RoutingIntent } from "../../domain/Request.js"

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
  /** Records a decision: a request sent to a free slot ends at `endAt`; one sent to a full node waits for it. */
  readonly record: (intent: RoutingIntent, candidate: Candidate, now: number, endAt: number) => void
  /** Requests remembered as waiting (for tests and introspection). */
  readonly waitingCount: () => number
}

/** A wait not seen again for this long is forgotten (its request ended some other way). Default 60 s. */
export const FORGET_WAITING_MS = 60_000

/** Index of the smallest value of `xs` (non-empty). */
const minIndex = (xs: ReadonlyArray<number>): number => {
  let at = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[at]!) at = i
  return at
}

/**
 * A running request's expected remaining ms: until its expected end; once past it, as long again as it is late
 * (a node slower than its figures, say one whose first answer has not come back, is not taken for free).
 */
export const remainingOf = (end: number, now: number): number => Math.abs(end - now)

export const makeOccupancy = (): Occupancy => {
  // node → expected end times (virtual ms) of the requests sollol sent there that may still run
  const ends = new Map<NodeId, Array<number>>()
  const waiting = new Map<string, Waiting>()
  // per decision: waiters ahead of the request, by node
  const ahead = new Map<NodeId, number>()
  const sorted: Array<number> = []
  let remaining: Array<number> = []

  const reconcile = (c: Candidate, now: number, fallbackEnd: number): Array<number> => {
    let list = ends.get(c.nodeId)
    if (list === undefined) {
      list = []
      ends.set(c.nodeId, list)
    }
    // the earliest expected end most likely finished first
    while (list.length > c.inFlight) list.splice(minIndex(list), 1)
    // in flight but not sent by this strategy (a retry's fallback, a restart): assume half-way done
    while (list.length < c.inFlight) list.push(Math.max(now, fallbackEnd))
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
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]!
        const round = Math.max(roundMs(i), 0)
        const list = reconcile(c, now, now + round / 2)
        const n = list.length
        let sum = 0
        for (let j = 0; j < n; j++) sum += remainingOf(list[j]!, now)
        remaining[i] = sum
        const slots = Math.max(1, c.slots)
        if (c.inFlight < slots) continue
        // the k-th slot to free (0-based) is this request's: those ahead take the earlier ones
        const k = (ahead.size === 0 ? 0 : ahead.get(c.nodeId) ?? 0) + c.inFlight - slots
        if (n === 0) {
          out[i] = round * (k + 1)
          continue
        }
        sorted.length = n
        for (let j = 0; j < n; j++) sorted[j] = remainingOf(list[j]!, now)
        if (k % n > 0) sorted.sort((a, b) => a - b)
        out[i] = (k % n > 0 ? sorted[k % n]! : Math.min(...sorted)) + Math.floor(k / n) * round
      }
      return out
    },
    record: (intent, candidate, now, endAt) => {
      if (candidate.inFlight < Math.max(1, candidate.slots)) {
        waiting.delete(intent.requestId)
        const list = ends.get(candidate.nodeId)
        if (list === undefined) ends.set(candidate.nodeId, [endAt])
        else list.push(endAt)
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
    waitingCount: () => waiting.size
  }
}
