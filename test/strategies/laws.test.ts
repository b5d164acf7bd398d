import { Effect, Layer, Option } from "effect"
import { assert, describe, it } from "vitest"
import type { Candidate } from "../../src/domain/Candidate.js"
import { simplePick } from "../../src/domain/Decision.js"
import { Strategy } from "../../src/strategies/Strategy.js"
import { checkStrategyLaws } from "../../src/testing/strategyLaws.js"
import { candidate } from "./fixtures.js"

const strategy = (choose: Strategy["Type"]["choose"]) => Layer.succeed(Strategy, Strategy.of({ name: "bad", choose }))

const ghost = candidate("ghost")
const first = (reasoning: string) =>
  strategy((_, cs) => Effect.succeed(Option.map(Option.fromNullable(cs[0]), (c) => simplePick(c, reasoning))))

const rejects = async (layer: Layer.Layer<Strategy>, law: string) => {
  const error = await checkStrategyLaws(layer, { numRuns: 20 }).then(() => undefined, (e: unknown) => String(e))
  assert.isDefined(error, `expected ${law} to fail`)
  assert.include(error, law)
}

describe("checkStrategyLaws", () => {
  it("rejects a strategy that answers None for a non-empty list", () =>
    rejects(strategy(() => Effect.succeedNone), "law (a)"))

  it("rejects a strategy that picks a node outside the list", () =>
    rejects(
      strategy((_, cs) => Effect.succeed(cs.length === 0 ? Option.none() : Option.some(simplePick(ghost, "ghost")))),
      "law (b)"
    ))

  it("rejects a strategy that dies", () =>
    rejects(strategy(() => Effect.die("bug")), "law (d)"))

  it("rejects a strategy whose state escapes its layer", async () => {
    let shared = 0 // deliberately outside the Layer: each build continues where the last one stopped
    const leaky = strategy((_, cs) =>
      Effect.sync(() =>
        Option.map(Option.fromNullable(cs[shared++ % Math.max(cs.length, 1)]), (c) => simplePick(c, "leaky"))
      )
    )
    await rejects(leaky, "law (c)")
  })

  it("rejects a strategy that starves equal candidates", () =>
    rejects(first("always the first"), "law (e)"))

  it("rejects a pick without a reasoning", () =>
    rejects(first(""), "law (f)"))

  it("rejects a chooseNow that chooses otherwise than choose", () => {
    const pickAt = (cs: ReadonlyArray<Candidate>, i: number) =>
      Option.map(Option.fromNullable(cs[i % Math.max(cs.length, 1)]), (c) => simplePick(c, `#${i}`))
    // choose rotates; chooseNow always takes the first: they part at the second call on a list of two or more
    const rotating = Layer.sync(Strategy, () => {
      let turn = 0
      return { name: "split", choose: (_, cs) => Effect.sync(() => pickAt(cs, turn++)), chooseNow: (_, cs) => pickAt(cs, 0) }
    })
    return rejects(rotating, "law (g)")
  })
})
