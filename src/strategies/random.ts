/** Uniform random choice with Effect's Random, so tests seed it with `Effect.withRandom(Random.make(seed))`. */
import { Effect, Layer, Option, Random } from "effect"
import { simplePick } from "../domain/Decision.js"
import { plural, Strategy } from "./Strategy.js"

export const layerRandom: Layer.Layer<Strategy> = Layer.succeed(
  Strategy,
  Strategy.of({
    name: "random",
    choose: (_intent, candidates) =>
      candidates.length === 0
        ? Effect.succeedNone
        : Effect.map(Random.nextIntBetween(0, candidates.length), (i) =>
          Option.fromNullable(candidates[i]).pipe(
            Option.map((c) => simplePick(c, `random: uniform pick (${plural(candidates.length)})`))
          ))
  })
)
