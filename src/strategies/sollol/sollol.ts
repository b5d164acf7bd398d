/**
 * The `sollol` strategy (the default): expected completion time corrected by health, priority, affinity and
 * option compatibility. Its state (the affinity memory, the tie cursor, and what it sent where, for real slot waits)
 * belongs to the Layer's instance and changes only within one synchronous decision, so it can run as `chooseNow`.
 */
import { Effect, Layer, Option } from "effect"
import type { Candidate } from "../../domain/Candidate.js"
import type { RoutingIntent } from "../../domain/Request.js"
import { Strategy, synchronous } from "../Strategy.js"
import { decodeMsAt, makeSlowdown, prefillMsAt } from "./completionTime.js"
import { emptyAffinity, lookupAffinity, rememberAffinity } from "./affinity.js"
import { resolveSollolConfig, type SollolConfig, type SollolConfigInput } from "./config.js"
import { makeOccupancy } from "./occupancy.js"
import { decide } from "./picker.js"

/** A request's own service time at the configured default rates: the round of a node with no latency seen yet. */
const defaultRoundMs = (intent: RoutingIntent, config: SollolConfig): number =>
  prefillMsAt(intent.promptTokens, config.defaults) + decodeMsAt(intent.expectedOutputTokens, config.defaults)

export const makeSollol = (input: SollolConfigInput = {}): Effect.Effect<Strategy["Type"]> =>
  Effect.sync(() => {
    const config = resolveSollolConfig(input)
    // running^exponent is pure: one memo serves every decision
    const slowdown = makeSlowdown(config.contentionExponent)
    // the affinity memory and the tie cursor, read and advanced within one synchronous decision
    let memory = emptyAffinity
    let turn = 0
    const occupancy = makeOccupancy()
    const waitsOf = (intent: RoutingIntent, candidates: ReadonlyArray<Candidate>, now: number) => {
      const fallback = defaultRoundMs(intent, config)
      return occupancy.waits(intent, candidates, now, (i) => {
        const ewma = candidates[i]!.ewmaMs
        return ewma > 0 ? ewma : fallback
      })
    }
    return synchronous("sollol", (intent, candidates, now) => {
      if (candidates.length === 0) return Option.none()
      const remembered = lookupAffinity(memory, intent.affinityKey)
      const waited = Math.max(0, now - intent.arrivedAt)
      const occupied = config.realWaits
        ? { waits: waitsOf(intent, candidates, now), remaining: occupancy.remaining(), longest: occupancy.longestRunning() }
        : undefined
      const result = decide(intent, candidates, config, remembered, turn++, waited, slowdown, occupied)
      if (result === undefined) return Option.none()
      if (config.realWaits) occupancy.record(intent, result.pick.candidate, now, now + result.estimateMs)
      if (intent.affinityKey !== undefined && remembered !== result.pick.candidate.nodeId) {
        memory = rememberAffinity(memory, intent.affinityKey, result.pick.candidate.nodeId, config.affinity.capacity)
      }
      return Option.some(result.pick)
    })
  })

export const layerSollol = (config: SollolConfigInput = {}): Layer.Layer<Strategy> =>
  Layer.effect(Strategy, makeSollol(config))
