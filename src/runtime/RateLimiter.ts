/**
 * Per-key rate limits as token buckets on Effect's Clock: one bucket of requests per minute and one of tokens per
 * minute, each refilled continuously. Over the limit fails with `AuthError("RateLimited")` and a Retry-After.
 */
import { Clock, Context, Effect, HashMap, Layer, Option, Ref } from "effect"
import { AuthError } from "../domain/errors.js"

export interface Limits {
  /** Requests per minute: bucket capacity `rpm`, refilled at `rpm / 60` per second. Absent = unlimited. */
  readonly rpm?: number | undefined
  /** Tokens per minute, the same way. Absent = unlimited. */
  readonly tpm?: number | undefined
}

export interface Cost {
  /** Requests this call counts for (1 per HTTP request). */
  readonly requests: number
  /** Tokens charged up front (the prompt estimate); the rest comes later through `commitTokens`. */
  readonly tokens: number
}

export interface RateLimiterOptions {
  /** Keys with buckets kept; past it, idle (full) buckets go first, then the least recently used. Default 10_000. */
  readonly maxKeys?: number
}

export interface RateLimiterService {
  /**
   * Takes `cost` from the key's buckets, or takes nothing and fails with `RateLimited` and `retryAfterSeconds` (the
   * time until enough has refilled, rounded up, at least 1). A cost above a bucket's capacity is admitted once the
   * bucket is full, and drives it negative, so one huge request is possible but is paid for by the next ones.
   */
  readonly take: (keyId: string, limits: Limits, cost: Cost) => Effect.Effect<void, AuthError>
  /** Charges tokens known after the response (the output); may drive the bucket negative, delaying later requests. */
  readonly commitTokens: (keyId: string, tpm: number | undefined, actualTokens: number) => Effect.Effect<void>
  /** Keys with a bucket in memory. */
  readonly trackedKeys: Effect.Effect<number>
}

export class RateLimiter extends Context.Tag("sollol/RateLimiter")<RateLimiter, RateLimiterService>() {}

interface Bucket {
  readonly level: number
  readonly capacity: number
  readonly at: number
}

interface KeyBuckets {
  readonly requests: Bucket | undefined
  readonly tokens: Bucket | undefined
  readonly seenAt: number
}

const MINUTE_MS = 60_000
/** Slack for floating-point refill sums (so 0.9999999997 tokens counts as 1). */
const EPSILON = 1e-9

/** The level at `now`: continuous refill of `capacity` per minute, never above capacity. */
const levelAt = (bucket: Bucket | undefined, capacity: number, now: number): number =>
  bucket === undefined
    ? capacity
    : Math.min(capacity, bucket.level + (Math.max(0, now - bucket.at) * capacity) / MINUTE_MS)

const isFull = (bucket: Bucket | undefined, now: number): boolean =>
  bucket === undefined || levelAt(bucket, bucket.capacity, now) >= bucket.capacity - EPSILON

/** Seconds until `level` reaches `need` at `capacity` per minute. */
const secondsUntil = (level: number, need: number, capacity: number): number => ((need - level) * 60) / capacity

/**
 * Keeps at most `maxKeys` entries: 1. drop idle ones (every bucket full again, so forgetting them changes nothing);
 * 2. if still over, drop the least recently seen down to 90% of the bound, so eviction does not run on every call.
 */
export const evict = (
  map: HashMap.HashMap<string, KeyBuckets>,
  maxKeys: number,
  now: number
): HashMap.HashMap<string, KeyBuckets> => {
  if (HashMap.size(map) <= maxKeys) return map
  const busy = HashMap.filter(map, (k) => !(isFull(k.requests, now) && isFull(k.tokens, now)))
  if (HashMap.size(busy) <= maxKeys) return busy
  const keep = Math.max(1, Math.floor(maxKeys * 0.9))
  const newest = Array.from(busy).sort(([, a], [, b]) => b.seenAt - a.seenAt).slice(0, keep)
  return HashMap.fromIterable(newest)
}

type Verdict = { readonly ok: true } | { readonly ok: false; readonly wait: number; readonly what: string }

export const make = (options: RateLimiterOptions = {}): Effect.Effect<RateLimiterService> =>
  Effect.gen(function*() {
    const maxKeys = Math.max(1, options.maxKeys ?? 10_000)
    const state = yield* Ref.make(HashMap.empty<string, KeyBuckets>())

    const store = (map: HashMap.HashMap<string, KeyBuckets>, keyId: string, entry: KeyBuckets, now: number) =>
      evict(HashMap.set(map, keyId, entry), maxKeys, now)

    const take = (keyId: string, limits: Limits, cost: Cost): Effect.Effect<void, AuthError> => {
      const { rpm, tpm } = limits
      if (rpm === undefined && tpm === undefined) return Effect.void
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (map): [Verdict, HashMap.HashMap<string, KeyBuckets>] => {
          const current = Option.getOrUndefined(HashMap.get(map, keyId))
          const requests = Math.max(0, cost.requests)
          const tokens = Math.max(0, cost.tokens)
          let verdict: Verdict = { ok: true }
          const check = (level: number, need: number, capacity: number, what: string) => {
            if (level + EPSILON >= need) return
            const wait = secondsUntil(level, need, capacity)
            if (verdict.ok || wait > verdict.wait) verdict = { ok: false, wait, what }
          }
          const reqLevel = rpm === undefined ? 0 : levelAt(current?.requests, rpm, now)
          const tokLevel = tpm === undefined ? 0 : levelAt(current?.tokens, tpm, now)
          if (rpm !== undefined) check(reqLevel, Math.min(requests, rpm), rpm, `${rpm} requests per minute`)
          if (tpm !== undefined) check(tokLevel, Math.min(tokens, tpm), tpm, `${tpm} tokens per minute`)
          if (!verdict.ok) return [verdict, map]
          const entry: KeyBuckets = {
            requests: rpm === undefined ? undefined : { level: reqLevel - requests, capacity: rpm, at: now },
            tokens: tpm === undefined ? current?.tokens : { level: tokLevel - tokens, capacity: tpm, at: now },
            seenAt: now
          }
          return [verdict, store(map, keyId, entry, now)]
        })).pipe(
          Effect.flatMap((verdict) =>
            verdict.ok ? Effect.void : Effect.fail(
              new AuthError({
                reason: "RateLimited",
                message: `rate limit exceeded: ${verdict.what}`,
                retryAfterSeconds: Math.max(1, Math.ceil(verdict.wait - EPSILON))
              })
            )
          )
        )
    }

    const commitTokens = (keyId: string, tpm: number | undefined, actualTokens: number): Effect.Effect<void> =>
      tpm === undefined || !(actualTokens > 0) ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(state, (map) => {
          const current = Option.getOrUndefined(HashMap.get(map, keyId))
          const level = levelAt(current?.tokens, tpm, now) - actualTokens
          const entry: KeyBuckets = {
            requests: current?.requests,
            tokens: { level, capacity: tpm, at: now },
            seenAt: now
          }
          return store(map, keyId, entry, now)
        }))

    return RateLimiter.of({ take, commitTokens, trackedKeys: Effect.map(Ref.get(state), HashMap.size) })
  })

export const layer: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make())

export const layerWith = (options: RateLimiterOptions): Layer.Layer<RateLimiter> =>
  Layer.effect(RateLimiter, make(options))
