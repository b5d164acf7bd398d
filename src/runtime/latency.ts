/** A sliding window of recent latencies with an exact quantile over it (small windows: a sort per read is cheap). */

export interface LatencyWindow {
  readonly add: (ms: number) => void
  readonly size: () => number
  /** Nearest-rank quantile, `q` in [0, 1]; NaN when empty. */
  readonly quantile: (q: number) => number
}

export const makeLatencyWindow = (capacity: number): LatencyWindow => {
  const ring = new Array<number>(Math.max(1, capacity))
  let count = 0
  let next = 0
  return {
    add: (ms) => {
      ring[next] = ms
      next = (next + 1) % ring.length
      count = Math.min(ring.length, count + 1)
    },
    size: () => count,
    quantile: (q) => {
      if (count === 0) return Number.NaN
      const sorted = ring.slice(0, count).sort((a, b) => a - b)
      const rank = Math.min(count, Math.max(1, Math.ceil(q * count)))
      return sorted[rank - 1]!
    }
  }
}
