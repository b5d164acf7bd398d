/** Seeded, dependency-free randomness so a simulated node is reproducible from its seed. */

/** A seeded generator of floats in [0, 1) (mulberry32); the state lives in the returned closure. */
export type Rng = () => number

export const makeRng = (seed: number): Rng => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
export const hashString = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Standard normal draw (Box–Muller). */
export const normal = (rng: Rng): number => {
  const u = Math.max(rng(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng())
}

/** The output length the sim draws when a request sets no `num_predict`: lognormal, this mean and σ, capped. */
export const OUTPUT_TOKENS = { mean: 120, sigma: 0.6, max: 1024 } as const

/** Output length when the request sets no `num_predict` (see `OUTPUT_TOKENS`), within [1, max]. */
export const drawOutputTokens = (rng: Rng): number => {
  const { mean, sigma, max } = OUTPUT_TOKENS
  const mu = Math.log(mean) - (sigma * sigma) / 2
  return Math.min(max, Math.max(1, Math.round(Math.exp(mu + sigma * normal(rng)))))
}

/** 64 lower-case hex digits derived from a name (stable model digests). */
export const hexDigest = (name: string): string => {
  let out = ""
  for (let i = 0; out.length < 64; i++) out += hashString(`${i}:${name}`).toString(16).padStart(8, "0")
  return out.slice(0, 64)
}

const words = (
  "the a model node token answer system cluster simple quick light river stone cloud signal value " +
  "because which while after every small large first last under over within across north south " +
  "bright quiet steady fast slow warm cold open close path field point line order level state"
).split(" ")

/** The text of output token `i`: a word from the seeded generator, space-separated after the first. */
export const tokenText = (rng: Rng, i: number): string => {
  const w = words[Math.floor(rng() * words.length)] ?? "the"
  return i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : ` ${w}`
}

/** A deterministic L2-normalised vector for `text` (same model and text → same vector). */
const computeEmbedding = (model: string, text: string, dim: number): Array<number> => {
  const rng = makeRng(hashString(`${model}\u0000${text}`))
  const v = Array.from({ length: dim }, () => normal(rng))
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1
  return v.map((x) => Math.fround(x / norm))
}

/** Deterministic, so recent vectors are kept: batch runs embed the same texts on several nodes and in retries. */
const EMBEDDING_CACHE_SIZE = 20_000
const embeddingCache = new Map<string, ReadonlyArray<number>>()

export const embeddingVector = (model: string, text: string, dim: number): ReadonlyArray<number> => {
  const key = `${model}\u0000${dim}\u0000${text}`
  const hit = embeddingCache.get(key)
  if (hit !== undefined) return hit
  const v = computeEmbedding(model, text, dim)
  if (embeddingCache.size >= EMBEDDING_CACHE_SIZE) embeddingCache.delete(embeddingCache.keys().next().value!)
  embeddingCache.set(key, v)
  return v
}

/** Token count estimate: about four characters per token, at least one for non-empty text. */
export const countTokens = (text: string): number => (text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4)))
