/** Round-robin: each call takes the next candidate in turn; the cursor lives in a Ref owned by the Layer. */
import { Effect, Layer, Option, Ref } from "effect"
import { simplePick } from "../domain/Decision.js"
import { plural, Strategy } from "./Strategy.js"

export const layerRoundRobin: Layer.Layer<Strategy> = Layer.effect(
  Strategy,
  Effect.gen(function*() {
    const cursor = yield* Ref.make(0)
    return Strategy.of({
      name: "round-robin",
      choose: (_intent, candidates) =>
        candidates.length === 0
          ? Effect.succeedNone
          : Effect.map(Ref.getAndUpdate(cursor, (n) => n + 1), (n) =>
            Option.fromNullable(candidates[n % candidates.length]).pipe(
              Option.map((c) => simplePick(c, `round-robin: next in turn (${plural(candidates.length)})`))
            ))
    })
  })
)
