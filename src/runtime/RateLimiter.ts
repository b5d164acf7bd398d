/**
 * Per-key rate limits on Effect's Clock. Requests per minute: a sliding-window log, so no 60 s window ever holds more
 * than `rpm` admitted requests. Tokens per minute: a token bucket refilled continuously (bursty costs average out).
 * Over a limit fails with `AuthError("RateLimited")` and a Retry-After.
 */
import { Clock, Context, Effect, HashMap, Layer, Option, Ref } from "effect"
import { AuthError } from "../domain/errors.js"

export interface Limits {
  /**
   * Requests per minute, enforced exactly over every sliding 60 s window (a log of the admission times in the last
   * minute, at most `rpm` entries per key). Absent = unlimited.
   */
  readonly rpm?: number | undefined
  /** Tokens per minute: bucket capacity `tpm`, refilled at `tpm / 60` per second. Absent = unlimited. */
  readonly tpm?: number | undefined
}

export interface Cost {
  /** Requests this call counts for (1 per HTTP request; a cost above `rpm` counts as `rpm`). */
  readonly requests: number
  /** Tokens charged up front (the prompt estimate); the rest comes later through `commitTokens`. */
  readonly tokens: number
}

export interface RateLimiterOptions {
  /** Keys with state kept; past it, idle keys go first, then the least recently used. Default 10_000. */
  readonly maxKeys?: number
}

export interface RateLimiterService {
  /**
   * Takes `cost` from the key's limits, or takes nothing and fails with `RateLimited` and `retryAfterSeconds` (the
   * time until the request would be admitted, rounded up, at least 1). A token cost above the bucket's capacity is
   * admitted once the bucket is full, and drives it negative, so one huge request is possible but is paid for by the
   * next ones.
   */
  readonly take: (keyId: string, limits: Limits, cost: Cost) => Effect.Effect<void, AuthError>
  /** Charges tokens known after the response (the output); may drive the bucket negative, delaying later requests. */
  readonly commitTokens: (keyId: string, tpm: number | undefined, actualTokens: number) => Effect.Effect<void>
  /** Keys with state in memory. */
  readonly trackedKeys: Effect.Effect<number>
}

export class RateLimiter extends Context.Tag("sollol/RateLimiter")<RateLimiter, RateLimiterService>() {}

interface Bucket {
  readonly level: number
  readonly capacity: number
  readonly at: number
}

interface KeyState {
  /** Admission times of the last minute, oldest first (possibly with expired ones at the front). */
  readonly requests: ReadonlyArray<number>
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

/** The admission times still inside the window ending at `now` (a time `t` counts while `now - t < 1 minute`). */
const liveTimes = (times: ReadonlyArray<number>, now: number): ReadonlyArray<number> => {
  let first = 0
  while (first < times.length && now - times[first]! >= MINUTE_MS) first++
  return first === 0 ? times : times.slice(first)
}

const isIdle = (state: KeyState, now: number): boolean =>
  liveTimes(state.requests, now).length === 0 && isFull(state.tokens, now)

/**
 * Keeps at most `maxKeys` entries: 1. drop idle ones (nothing admitted in the last minute and the token bucket full
 * again, so forgetting them changes nothing); 2. if still over, drop the least recently seen down to 90% of the
 * bound, so eviction does not run on every call.
 */
export const evict = (
  map: HashMap.HashMap<string, KeyState>,
  maxKeys: number,
  now: number
): HashMap.HashMap<string, KeyState> => {
  if (HashMap.size(map) <= maxKeys) return map
  const busy = HashMap.filter(map, (k) => !isIdle(k, now))
  if (HashMap.size(busy) <= maxKeys) return busy
  const keep = Math.max(1, Math.floor(maxKeys * 0.9))
  const newest = Array.from(busy).sort(([, a], [, b]) => b.seenAt - a.seenAt).slice(0, keep)
  return HashMap.fromIterable(newest)
}

type Verdict = { readonly ok: true } | { readonly ok: false; readonly waitMs: number; readonly what: string }

/**
 * The sliding-window log: 1. drop times a minute old or older; 2. admit `need` more when at most `rpm - need` remain;
 * 3. otherwise the wait is until the time whose expiry frees the last needed place leaves the window.
 */
const checkRequests = (live: ReadonlyArray<number>, need: number, rpm: number, now: number): number | undefined => {
  const excess = live.length + need - rpm
  return excess <= 0 ? undefined : live[excess - 1]! + MINUTE_MS - now
}

export const make = (options: RateLimiterOptions = {}): Effect.Effect<RateLimiterService> =>
  Effect.gen(function*() {
    const maxKeys = Math.max(1, options.maxKeys ?? 10_000)
    const state = yield* Ref.make(HashMap.empty<string, KeyState>())

    const store = (map: HashMap.HashMap<string, KeyState>, keyId: string, entry: KeyState, now: number) =>
      evict(HashMap.set(map, keyId, entry), maxKeys, now)

    const decide = (
      map: HashMap.HashMap<string, KeyState>,
      keyId: string,
      limits: Limits,
      cost: Cost,
      now: number
    ): readonly [Verdict, HashMap.HashMap<string, KeyState>] => {
      const { rpm, tpm } = limits
      const current = Option.getOrUndefined(HashMap.get(map, keyId))
      const need = rpm === undefined ? 0 : Math.min(Math.max(0, Math.ceil(cost.requests)), rpm)
      const tokens = Math.max(0, cost.tokens)
      let verdict: Verdict = { ok: true }
      const refuse = (waitMs: number, what: string) => {
        if (verdict.ok || waitMs > verdict.waitMs) verdict = { ok: false, waitMs, what }
      }
      const live = liveTimes(current?.requests ?? [], now)
      const reqWait = rpm === undefined ? undefined : checkRequests(live, need, rpm, now)
      if (reqWait !== undefined) refuse(reqWait, `${rpm} requests per minute`)
      const tokLevel = tpm === undefined ? 0 : levelAt(current?.tokens, tpm, now)
      const tokNeed = tpm === undefined ? 0 : Math.min(tokens, tpm)
      if (tpm !== undefined && tokLevel + EPSILON < tokNeed) {
        refuse(((tokNeed - tokLevel) * MINUTE_MS) / tpm, `${tpm} tokens per minute`)
      }
      if (!verdict.ok) return [verdict, map]
      const entry: KeyState = {
        requests: need === 0 ? live : [...live, ...Array.from({ length: need }, () => now)],
        tokens: tpm === undefined ? current?.tokens : { level: tokLevel - tokens, capacity: tpm, at: now },
        seenAt: now
      }
      return [verdict, store(map, keyId, entry, now)]
    }

    const take = (keyId: string, limits: Limits, cost: Cost): Effect.Effect<void, AuthError> =>
      limits.rpm === undefined && limits.tpm === undefined ? Effect.void : Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Effect.flatMap(Ref.modify(state, (map) => decide(map, keyId, limits, cost, now)), (verdict) =>
            verdict.ok ? Effect.void : Effect.fail(
              new AuthError({
                reason: "RateLimited",
                message: `rate limit exceeded: ${verdict.what}`,
                retryAfterSeconds: Math.max(1, Math.ceil(verdict.waitMs / 1000 - EPSILON))
              })
            ))
      )

    const commitTokens = (keyId: string, tpm: number | undefined, actualTokens: number): Effect.Effect<void> =>
      tpm === undefined || !(actualTokens > 0) ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(state, (map) => {
          const current = Option.getOrUndefined(HashMap.get(map, keyId))
          const level = levelAt(current?.tokens, tpm, now) - actualTokens
          const entry: KeyState = {
            requests: current?.requests ?? [],
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
