/**
 * The `sollol` strategy (the default): expected completion time corrected by health, priority, affinity and
 * option compatibility. Its state, the affinity memory and the tie cursor, lives in this Layer's Ref; what it sent
 * where (for real slot waits) in its occupancy, changed only within one synchronous decision.
 */
import { Clock, Effect, Layer, Option, Ref } from "effect"
import type { Candidate } from "../../domain/Candidate.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { Strategy } from "../Strategy.js"
import { decodeMsAt, makeSlowdown, prefillMsAt } from "./completionTime.js"
import { emptyAffinity, lookupAffinity, rememberAffinity } from "./affinity.js"
import { resolveSollolConfig, type SollolConfig, type SollolConfigInput } from "./config.js"
import { makeOccupancy } from "./occupancy.js"
import { decide } from "./picker.js"

/** A request's own service time at the configured default rates: the round of a node with no latency seen yet. */
const defaultRoundMs = (intent: RoutingIntent, config: SollolConfig): number =>
  prefillMsAt(intent.promptTokens, config.defaults) + decodeMsAt(intent.expectedOutputTokens, config.defaults)

export const makeSollol = (input: SollolConfigInput = {}) =>
  Effect.gen(function*() {
    const config = resolveSollolConfig(input)
    // running^exponent is pure: one memo serves every decision
    const slowdown = makeSlowdown(config.contentionExponent)
    // the affinity memory and the tie cursor, read and advanced in one step per decision
    const state = yield* Ref.make({ memory: emptyAffinity, turn: 0 })
    const occupancy = makeOccupancy()
    const waitsOf = (intent: RoutingIntent, candidates: ReadonlyArray<Candidate>, now: number) => {
      const fallback = defaultRoundMs(intent, config)
      return occupancy.waits(intent, candidates, now, (i) => {
        const ewma = candidates[i]!.ewmaMs
        return ewma > 0 ? ewma : fallback
      })
    }
    return Strategy.of({
      name: "sollol",
      // untraced: a span and a captured call site per decision cost more than the decision itself
      choose: Effect.fnUntraced(function*(intent, candidates) {
        if (candidates.length === 0) return Option.none()
        const { memory, turn } = yield* Ref.getAndUpdate(state, (s) => ({ memory: s.memory, turn: s.turn + 1 }))
        const remembered = lookupAffinity(memory, intent.affinityKey)
        const now = yield* Clock.currentTimeMillis
        const waited = Math.max(0, now - intent.arrivedAt)
        const waits = config.realWaits ? waitsOf(intent, candidates, now) : undefined
        const result = decide(
          intent,
          candidates,
          config,
          remembered,
          turn,
          waited,
          slowdown,
          waits,
          waits === undefined ? undefined : occupancy.remaining(),
          waits === undefined ? undefined : occupancy.longestRunning()
        )
        if (result === undefined) return Option.none()
        if (config.realWaits) occupancy.record(intent, result.pick.candidate, now, now + result.estimateMs)
        if (intent.affinityKey !== undefined && remembered !== result.pick.candidate.nodeId) {
          yield* Ref.update(state, (s) => ({
            memory: rememberAffinity(s.memory, intent.affinityKey, result.pick.candidate.nodeId, config.affinity.capacity),
            turn: s.turn
          }))
        }
        return Option.some(result.pick)
      })
    })
  })

export const layerSollol = (config: SollolConfigInput = {}): Layer.Layer<Strategy> =>
  Layer.effect(Strategy, makeSollol(config))
