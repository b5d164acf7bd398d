/**
 * The `sollol` strategy (the default): expected completion time corrected by health, priority, affinity and
 * option compatibility. Its only state, the affinity memory and the tie cursor, lives in this Layer's Refs.
 */
import { Clock, Effect, Layer, Option, Ref } from "effect"
import { Strategy } from "../Strategy.js"
import { makeSlowdown } from "./completionTime.js"
import { emptyAffinity, lookupAffinity, rememberAffinity } from "./affinity.js"
import { resolveSollolConfig, type SollolConfigInput } from "./config.js"
import { decide } from "./picker.js"

export const makeSollol = (input: SollolConfigInput = {}) =>
  Effect.gen(function*() {
    const config = resolveSollolConfig(input)
    // running^exponent is pure: one memo serves every decision
    const slowdown = makeSlowdown(config.contentionExponent)
    // the affinity memory and the tie cursor, read and advanced in one step per decision
    const state = yield* Ref.make({ memory: emptyAffinity, turn: 0 })
    return Strategy.of({
      name: "sollol",
      // untraced: a span and a captured call site per decision cost more than the decision itself
      choose: Effect.fnUntraced(function*(intent, candidates) {
        if (candidates.length === 0) return Option.none()
        const { memory, turn } = yield* Ref.getAndUpdate(state, (s) => ({ memory: s.memory, turn: s.turn + 1 }))
        const remembered = lookupAffinity(memory, intent.affinityKey)
        const waited = Math.max(0, (yield* Clock.currentTimeMillis) - intent.arrivedAt)
        const result = decide(intent, candidates, config, remembered, turn, waited, slowdown)
        if (result === undefined) return Option.none()
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
