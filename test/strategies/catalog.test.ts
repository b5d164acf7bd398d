import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer } from "effect"
import {
  builtinStrategies,
  defaultStrategyName,
  layerFromName,
  makeCatalog,
  strategyLayer,
  UnknownStrategy
} from "../../src/strategies/catalog.js"
import { fromFunction } from "../../src/strategies/fromFunction.js"
import { Strategy } from "../../src/strategies/Strategy.js"

const nameOf = (layer: Layer.Layer<Strategy>) => Effect.map(Effect.provide(Strategy, layer), (s) => s.name)

describe("catalog", () => {
  it.effect("finds every built-in by the name it reports", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Object.keys(builtinStrategies), ["round-robin", "random", "least-loaded", "p2c-ewma", "sollol"])
      for (const name of Object.keys(builtinStrategies)) {
        assert.strictEqual(yield* nameOf(yield* strategyLayer(name)), name)
      }
    }))

  it.effect("defaults to sollol, which is in the catalog", () =>
    Effect.gen(function*() {
      assert.strictEqual(defaultStrategyName, "sollol")
      assert.strictEqual(yield* nameOf(yield* strategyLayer(defaultStrategyName)), "sollol")
    }))

  it("rejects an unknown name with an error that lists the known ones", () => {
    const result = strategyLayer("fastest")
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) {
      assert.instanceOf(result.left, UnknownStrategy)
      assert.strictEqual(
        result.left.message,
        "unknown strategy 'fastest'; known strategies: round-robin, random, least-loaded, p2c-ewma, sollol"
      )
    }
    assert.isTrue(Either.isLeft(strategyLayer("toString")))
  })

  it.effect("registers extra strategies by name next to the built-ins", () =>
    Effect.gen(function*() {
      const catalog = makeCatalog({ "first": fromFunction("first", (_, cs) => cs[0]) })
      assert.strictEqual(yield* nameOf(yield* strategyLayer("first", catalog)), "first")
      assert.strictEqual(yield* nameOf(yield* strategyLayer("random", catalog)), "random")
      const unknown = strategyLayer("nope", catalog)
      assert.isTrue(Either.isLeft(unknown) && unknown.left.known.includes("first"))
    }))

  it.effect("builds a layer from a name, failing the build for an unknown one", () =>
    Effect.gen(function*() {
      const s = yield* Effect.provide(Strategy, layerFromName("least-loaded"))
      assert.strictEqual(s.name, "least-loaded")
      const exit = yield* Effect.exit(Effect.provide(Strategy, layerFromName("fastest")))
      assert.isTrue(Exit.isFailure(exit))
    }))
})
