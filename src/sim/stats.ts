/** Counters of one simulated node, as `GET /__sim/stats` and `SimNode.stats` report them. */
import type { Fault } from "./faults.js"

export interface SimStats {
  readonly name: string
  readonly profile: string
  /** Requests answered (any status), excluding `/__sim/*`. */
  readonly served: number
  /** Requests inside the node now, and the most ever at once. */
  readonly inFlight: number
  readonly maxInFlight: number
  /** Requests holding a model slot now, and the most ever at once. */
  readonly running: number
  readonly maxRunning: number
  /** Requests waiting for a slot or a load. */
  readonly waiting: number
  /** Served requests per path. */
  readonly perEndpoint: Readonly<Record<string, number>>
  /** Served inference requests per normalised model. */
  readonly perModel: Readonly<Record<string, number>>
  readonly loads: number
  /** Models evicted to make room under the memory budget. */
  readonly evictions: number
  /** Models unloaded by keep_alive expiry, `keep_alive: 0` or delete. */
  readonly unloads: number
  /** Requests answered 503 because the wait queue was full. */
  readonly rejected: number
  /** Requests a fault refused, failed or cut. */
  readonly faulted: number
  /** Resident models. */
  readonly loaded: ReadonlyArray<string>
  readonly fault: Fault
}

export const bump = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}
