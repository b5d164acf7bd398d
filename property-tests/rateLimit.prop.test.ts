/**
 * Laws of the per-key rate limits. Requests: no 60 s window ever holds more than `rpm` admitted requests of a key,
 * and a request is refused only when its key already has `rpm` in the last minute (the limiter is exactly the
 * sliding-window model). Tokens: a bucket of capacity C refilled at C per minute admits at most C + C·T/60 s in any
 * window of length T (RFC 2697's token-bucket envelope).
 */
import { Clock, Effect } from "effect"
import fc from "fast-check"
import { describe, it } from "vitest"
import * as RateLimiter from "../src/runtime/RateLimiter.js"
import { manualClock } from "../test/support/manualClock.js"

interface Op {
  readonly key: number
  readonly advanceMs: number
  readonly tokens: number
  /** Requests sent back to back at the same instant. */
  readonly burst: number
}

const opArb = (keys: number, maxTokens: number) =>
  fc.record({
    key: fc.nat(keys - 1),
    advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 90_000 })),
    tokens: fc.integer({ min: 0, max: maxTokens }),
    burst: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 25 }))
  })

const scenarioArb = fc.record({
  rpms: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 4 }),
  tpm: fc.integer({ min: 50, max: 500 })
}).chain(({ rpms, tpm }) =>
  fc.record({
    rpms: fc.constant(rpms),
    tpm: fc.constant(tpm),
    ops: fc.array(opArb(rpms.length, Math.ceil(tpm * 1.5)), { maxLength: 60 })
  })
)

interface Accepted {
  readonly at: number
  readonly tokens: number
}


/** Runs the ops on a fresh limiter in virtual time; returns each key's accepted requests and every verdict. */
const simulate = (rpms: ReadonlyArray<number>, tpm: number, ops: ReadonlyArray<Op>, useTokens: boolean) => {
  const time = { ms: 0 }
  return Effect.gen(function*() {
    const limiter = yield* RateLimiter.make()
    const accepted = rpms.map((): Array<Accepted> => [])
    const verdicts: Array<{ key: number; at: number; ok: boolean }> = []
    for (const op of ops) {
      yield* Clock.sleep(op.advanceMs)
      const now = time.ms
      const limits = useTokens ? { rpm: rpms[op.key], tpm } : { rpm: rpms[op.key] }
      const cost = { requests: 1, tokens: useTokens ? op.tokens : 0 }
      for (let i = 0; i < op.burst; i++) {
        const ok = yield* limiter.take(`key-${op.key}`, limits, cost).pipe(
          Effect.as(true),
          Effect.catchTag("AuthError", () => Effect.succeed(false))
        )
        if (ok) accepted[op.key]?.push({ at: now, tokens: cost.tokens })
        verdicts.push({ key: op.key, at: now, ok })
      }
    }
    return { accepted, verdicts }
  }).pipe(Effect.withClock(manualClock(time)), Effect.runPromise)
}

/** The largest excess over `bound(T)` among windows spanning accepted requests i..j. */
const worstWindow = (
  accepted: ReadonlyArray<Accepted>,
  measure: (a: Accepted) => number,
  bound: (windowMs: number) => number
): number => {
  let worst = -Infinity
  for (let i = 0; i < accepted.length; i++) {
    let sum = 0
    for (let j = i; j < accepted.length; j++) {
      const a = accepted[j]!
      sum += measure(a)
      worst = Math.max(worst, sum - bound(a.at - accepted[i]!.at))
    }
  }
  return worst
}

describe("rate limit laws", () => {
  it("for any interleaving of requests across keys, no key exceeds its limit within any 60 s window", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ rpms, ops }) => {
        const { accepted } = await simulate(rpms, 0, ops, false)
        // The acceptance bound is rpm + 1; the sliding-window log meets rpm itself.
        return rpms.every((rpm, k) => {
          const times = accepted[k]!.map((a) => a.at)
          return times.every((t) => times.filter((u) => u >= t && u < t + 60_000).length <= rpm)
        })
      }),
      { seed: 20261107, numRuns: 200 }
    )
  })

  it("a request is refused exactly when its key already has rpm admitted in the last 60 s", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ rpms, ops }) => {
        const { verdicts } = await simulate(rpms, 0, ops, false)
        return verdicts.every((v, i) => {
          const recent = verdicts.slice(0, i).filter((w) => w.key === v.key && w.ok && v.at - w.at < 60_000).length
          return v.ok === recent < rpms[v.key]!
        })
      }),
      { seed: 7, numRuns: 200 }
    )
  })

  it("accepted tokens never exceed the bucket's envelope (plus the overshoot of one oversized request)", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ rpms, tpm, ops }) => {
        const { accepted } = await simulate(rpms, tpm, ops, true)
        const overshoot = Math.max(0, Math.max(0, ...ops.map((o) => o.tokens)) - tpm)
        const bound = (ms: number) => tpm + (tpm * ms) / 60_000 + overshoot + 1e-6
        return accepted.every((list) => worstWindow(list, (a) => a.tokens, bound) <= 0)
      }),
      { seed: 99, numRuns: 150 }
    )
  })
})
