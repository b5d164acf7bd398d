/**
 * A strategy that dies, throws, tries to wait, picks nothing or picks a node outside its candidates, does not strand
 * requests: the first free candidate serves them.
 * The config's `sollol` section tunes the default strategy.
 */
import { Effect, Layer, Option } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { Strategy, synchronous } from "../../src/strategies/Strategy.js"
import { simCluster } from "./support.js"
import type { SimCluster } from "./support.js"

const strategies = {
  dying: Layer.succeed(Strategy, { name: "dying", choose: () => Effect.die(new Error("boom")) }),
  // A strategy must never wait (it does no I/O); one that does is cut short, not awaited.
  waiting: Layer.succeed(Strategy, { name: "waiting", choose: () => Effect.as(Effect.sleep("10 millis"), Option.none()) }),
  // The synchronous form runs outside any fiber: a throw there must not escape into the request either.
  throwing: Layer.succeed(Strategy, synchronous("throwing", () => {
    throw new Error("boom")
  })),
  // `choose` that throws before it returns an Effect
  eager: Layer.succeed(Strategy, {
    name: "eager",
    choose: () => {
      throw new Error("boom")
    }
  }),
  // the contract: None only for no candidates, never a node outside them
  nothing: Layer.succeed(Strategy, synchronous("nothing", () => Option.none())),
  outsider: Layer.succeed(Strategy, synchronous("outsider", (_intent, candidates) =>
    Option.some({ candidate: { ...candidates[0]!, nodeId: "elsewhere" as never }, score: 0, factors: [], reasoning: "", scored: [] })))
}

let sim: SimCluster | undefined
let sollol: Sollol | undefined
afterEach(async () => {
  await sollol?.close()
  await sim?.close()
  sollol = sim = undefined
})

/** A runtime over the hetero3 sim with `config`, answering one short chat; the previous one is closed first. */
const chatWith = async (config: Record<string, unknown>) => {
  await sollol?.close()
  await sim?.close()
  sim = await simCluster("hetero3", 200)
  sollol = await createSollol({ nodes: sim.nodes, upstreamFactory: sim.upstreamFactory, database: ":memory:", logLevel: "none", ...config })
  return sollol.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hi" }], options: { num_predict: 4 } })
}

describe("a failing strategy", () => {
  it.each(["dying", "waiting", "throwing", "eager", "nothing", "outsider"] as const)("(%s) falls back to the first free candidate and says so", async (name) => {
    const res = await chatWith({ strategies, strategy: name })
    expect(res.done).toBe(true)
    expect((res._sollol_routing as { reasoning: string }).reasoning).toMatch(new RegExp(`strategy ${name} failed .*took the first free candidate`))
  })
})

describe("the sollol section of the config", () => {
  const factorsWith = async (config: Record<string, unknown>) =>
    ((await chatWith(config))._sollol_routing as { factors: Record<string, number> }).factors

  it("sets the scorers' weights", async () => {
    const defaults = await factorsWith({})
    expect(defaults.completionTime).toBeGreaterThan(0)
    const off = await factorsWith({ sollol: { weights: { completionTime: 0, health: 0, priority: 0, affinity: 0, options: 0 } } })
    expect(Object.values(off)).toEqual([0, 0, 0, 0, 0])
    const doubled = await factorsWith({ sollol: { weights: { completionTime: 2 } } })
    expect(doubled.completionTime).toBeGreaterThan(defaults.completionTime!)
  })
})
