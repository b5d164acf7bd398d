/**
 * Conversation affinity: the node that served a conversation holds its prompt cache, so the next turn prefers it
 * while it has a free slot; once saturated the bonus is released and the turn goes where it finishes soonest.
 */
import { HashMap, Option } from "effect"
import type { NodeId } from "../../domain/NodeId.js"
import type { Scorer } from "./context.js"

/** Bonus (< 0) = −(minBonusMs + prefixShare × prefill time there), for the remembered node with a free slot. */
export const affinity: Scorer = (intent, c, ctx) => {
  if (intent.affinityKey === undefined || ctx.affinityNode !== c.nodeId || c.inFlight >= Math.max(1, c.slots)) return 0
  const a = ctx.config.affinity
  return -(a.minBonusMs + a.prefixShare * ctx.estimateOf(c).prefillMs)
}

/**
 * key → node, bounded as a two-generation LRU: writes go to `current`; when it holds capacity / 2 keys it becomes
 * `previous` and the old `previous` is dropped. A hit in `previous` is copied forward on its next write.
 */
export interface AffinityCache {
  readonly current: HashMap.HashMap<string, NodeId>
  readonly previous: HashMap.HashMap<string, NodeId>
}

export const emptyAffinity: AffinityCache = { current: HashMap.empty(), previous: HashMap.empty() }

export const lookupAffinity = (cache: AffinityCache, key: string | undefined): NodeId | undefined => {
  if (key === undefined) return undefined
  return Option.getOrUndefined(Option.orElse(HashMap.get(cache.current, key), () => HashMap.get(cache.previous, key)))
}

export const rememberAffinity = (
  cache: AffinityCache,
  key: string | undefined,
  nodeId: NodeId,
  capacity: number
): AffinityCache => {
  if (key === undefined) return cache
  const current = HashMap.set(cache.current, key, nodeId)
  return HashMap.size(current) >= Math.max(1, Math.floor(capacity / 2))
    ? { current: HashMap.empty(), previous: current }
    : { current, previous: cache.previous }
}
