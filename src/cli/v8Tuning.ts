/**
 * V8 settings for the long-running `sollol` process, applied once when the CLI starts (never by the library: an
 * embedding service keeps its own settings).
 *
 * Allocation-site pretenuring is off. V8 moves an allocation site to the old generation once most of its objects
 * survived a scavenge, and while the gateway warms up (requests are slow, JIT still compiling) some per-request
 * object literals qualify. From then on each such object is born old, and when its request ends it stays in the
 * old generation, dead, until the next full collection. Every young object it points to is still treated as live
 * by each scavenge in between, so the whole request (its fiber, closures, parser state) is copied out of the
 * young generation instead of dying there. Measured under `bench/overhead`'s short requests: 11 KB promoted per
 * request and 40–50 µs of scavenge pause per request with pretenuring, 1.7 KB (c=1) to 5.6 KB (c=32) and
 * 15–28 µs without it. `sollol simulate` runs as fast either way.
 */
import { setFlagsFromString } from "node:v8"

export const tuneV8 = (): void => {
  // A GC heuristic only read when V8 decides about pretenuring, so setting it after start-up takes effect.
  setFlagsFromString("--no-allocation-site-pretenuring")
}
