/** Round-robin: each call takes the next candidate in turn; the cursor belongs to the Layer's instance. */
import { Layer, Option } from "effect"
import { simplePick } from "../domain/Decision.js"
import { plural, Strategy, synchronous } from "./Strategy.js"

export const layerRoundRobin: Layer.Layer<Strategy> = Layer.sync(Strategy, () => {
  let cursor = 0
  return synchronous("round-robin", (_intent, candidates) => {
    if (candidates.length === 0) return Option.none()
    const chosen = candidates[cursor++ % candidates.length]!
    return Option.some(simplePick(chosen, `round-robin: next in turn (${plural(candidates.length)})`))
  })
})
