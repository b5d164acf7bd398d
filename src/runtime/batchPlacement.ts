/**
 * Where a batch's chunks go (batchEmbed.ts): what the batch knows of each node, when each node is expected to be
 * free, and the two rules a worker applies before it runs a chunk on its node: take a queued chunk only if no other
 * node would finish the queued work sooner (`worthTaking`), else back up a chunk a slower node is still running
 * (`backupFor`). Pure functions over the batch's state; the batch changes that state in synchronous sections only.
 */
import type { Deferred } from "effect"
import type { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import { CHARS_PER_TOKEN } from "./analyze.js"

/** Estimated prompt tokens of `inputs` (characters / 4, as `analyze` counts them). */
export const tokensOf = (inputs: ReadonlyArray<string>): number =>
  inputs.reduce((n, s) => n + Math.max(1, Math.ceil(s.length / CHARS_PER_TOKEN)), 0)

export interface Chunk {
  readonly index: number
  readonly start: number
  readonly inputs: ReadonlyArray<string>
  /** Estimated prompt tokens (characters / 4, as `analyze` counts them). */
  readonly tokens: number
  readonly tried: Set<NodeId>
  /** Nodes with an attempt on it in flight: one, or two while a backup runs. */
  readonly running: Set<NodeId>
  /** Completed when the chunk lands: a second attempt still running is then cancelled. */
  readonly won: Deferred.Deferred<void>
  landed: boolean
  lastError: UpstreamError | undefined
}

export interface Attempt {
  readonly chunk: Chunk
  readonly sentAt: number
  /** Expected model load ahead of it (the model was not loaded and nothing else of the batch ran there). */
  readonly loadMs: number
}

/** What the batch knows of one node. Rates are in prompt tokens per ms. */
export interface BatchNode {
  readonly id: NodeId
  /** Its live workers; 0 once it stopped being routable. */
  workers: number
  /** Its attempts in flight, in the order sent (an embedding runner runs one request at a time, in order). */
  readonly attempts: Array<Attempt>
  /** Learned: the store's figure at the start, then each chunk it embeds. Undefined while cold. */
  rate: number | undefined
  /** The store's prior for the model, else its fallback: what a cold node is assumed to do off the GPU. */
  readonly priorRate: number
  /** It runs its models (partly) in system RAM: not assumed as fast as the fastest GPU seen. */
  readonly offGpu: boolean
  /** Expected model load (learned, prior or fallback) while the model is not loaded there. */
  readonly loadMs: number
  loaded: boolean
  /** When its last attempt of this batch ended. */
  freeAt: number
}

/** Finish times this close are a tie (they are epoch ms, where a double resolves about a microsecond). */
const TIE_MS = 0.001
const EWMA_WEIGHT = 0.3
/** A node's measured rate after one more chunk. */
export const blend = (prev: number | undefined, x: number): number =>
  prev === undefined ? x : prev * (1 - EWMA_WEIGHT) + x * EWMA_WEIGHT

/**
 * When each attempt on `node` is expected to end, at `rate`: one after another from when the node's previous
 * attempt ended. An attempt past its expected end (a straggler) is assumed to need as long again as it overran, up
 * to its whole expected time.
 */
export const attemptEnds = (node: BatchNode, rate: number, now: number): Array<number> => {
  let t = node.freeAt
  return node.attempts.map((a) => {
    const start = Math.max(t, a.sentAt)
    const need = a.loadMs + a.chunk.tokens / rate
    const end = start + need
    t = end >= now ? end : now + Math.min(need, now - end)
    return t
  })
}

/** When `node` could start one more chunk: after its attempts in flight, and after loading the model if it must. */
export const freeFrom = (node: BatchNode, rate: number, now: number): number =>
  node.attempts.length > 0 ? Math.max(now, attemptEnds(node, rate, now).at(-1)!) : now + (node.loaded ? 0 : node.loadMs)

/** A cold node that has an attempt in flight: it takes nothing more, and holds no one back, until that lands. */
export const probing = (node: BatchNode) => node.rate === undefined && node.attempts.length > 0

/**
 * A node's rate: learned, else what the runtime assumes of a node new to a model (the sollol strategy's
 * `newcomerRates`/`offGpu`): as fast as the fastest node learned (or the prior, if faster), or only the prior
 * off the GPU. Optimism gets a cold node one chunk to measure it; `probing` keeps it to one.
 */
export const rateOf = (node: BatchNode, fastest: number): number =>
  node.rate ?? (node.offGpu ? node.priorRate : Math.max(node.priorRate, fastest))

/** The fastest rate measured on a live node so far; 0 while none is. */
export const fastestLearned = (nodes: ReadonlyArray<BatchNode>): number =>
  nodes.reduce((m, n) => (n.rate !== undefined && n.workers > 0 ? Math.max(m, n.rate) : m), 0)

/**
 * Whether `node` should take `chunk` now: it would finish it no later than the other nodes (live, not tried on
 * it, not probing) could finish all the queued work, this chunk included, after their own chunks in flight. A
 * chunk left in the queue is done after the others' queued work, so that is the time to beat, estimated from below
 * as the later of the work shared in proportion to their rates and their soonest finish of this chunk alone.
 * A slow node that cannot beat it leaves the chunk: leaving it ends the batch sooner. The node finishing a
 * chunk soonest always passes, so a queued chunk never waits for nobody.
 */
export const worthTaking = (
  nodes: ReadonlyArray<BatchNode>,
  /** Prompt tokens of the chunks still queued. */
  pendingTokens: number,
  node: BatchNode,
  chunk: Chunk,
  now: number,
  fastest: number
): boolean => {
  const own = rateOf(node, fastest)
  const mine = freeFrom(node, own, now) + chunk.tokens / own
  let rates = 0
  let work = pendingTokens
  let soonest = Infinity
  let onGpu = false
  for (const other of nodes) {
    if (other === node || other.workers === 0 || probing(other) || chunk.tried.has(other.id)) continue
    const rate = rateOf(other, fastest)
    const free = freeFrom(other, rate, now)
    rates += rate
    work += (free - now) * rate
    soonest = Math.min(soonest, free + chunk.tokens / rate)
    onGpu ||= !other.offGpu
  }
  if (rates === 0) return true
  const bound = Math.max(now + work / rates, soonest)
  // a tie (cold nodes all look alike) goes to a node on the GPU
  return mine < bound - TIE_MS || (mine <= bound + TIE_MS && !(node.offGpu && onGpu))
}

/**
 * A backup for an idle, learned `node`: of the chunks in flight elsewhere (not tried here, not backed up yet), the
 * one it would finish the most before its current attempt is expected to.
 */
export const backupFor = (
  nodes: ReadonlyArray<BatchNode>,
  node: BatchNode,
  now: number,
  fastest: number
): Chunk | undefined => {
  if (node.rate === undefined) return undefined
  const from = freeFrom(node, node.rate, now)
  let best: Chunk | undefined
  let gain = 0
  for (const other of nodes) {
    if (other === node || other.attempts.length === 0) continue
    const ends = attemptEnds(other, rateOf(other, fastest), now)
    other.attempts.forEach((a, i) => {
      const c = a.chunk
      if (c.landed || c.running.size > 1 || c.running.has(node.id) || c.tried.has(node.id)) return
      const g = ends[i]! - (from + c.tokens / node.rate!)
      if (g > gain) {
        gain = g
        best = c
      }
    })
  }
  return best
}
