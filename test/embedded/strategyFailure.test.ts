/** A strategy that dies, or that tries to wait, does not strand requests: the first free candidate serves them. */
import { Effect, Layer, Option } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createSollol } from "../../src/embedded/createSollol.js"
import type { Sollol } from "../../src/embedded/createSollol.js"
import { Strategy } from "../../src/strategies/Strategy.js"
import { simCluster } from "./support.js"
import type { SimCluster } from "./support.js"

const strategies = {
  dying: Layer.succeed(Strategy, { name: "dying", choose: () => Effect.die(new Error("boom")) }),
  // A strategy must never wait (it does no I/O); one that does is cut short, not awaited.
  waiting: Layer.succeed(Strategy, { name: "waiting", choose: () => Effect.as(Effect.sleep("10 millis"), Option.none()) })
}

describe("a failing strategy", () => {
  let sim: SimCluster | undefined
  let sollol: Sollol | undefined
  afterEach(async () => {
    await sollol?.close()
    await sim?.close()
  })

  it.each(["dying", "waiting"] as const)("(%s) falls back to the first free candidate and says so", async (name) => {
    sim = await simCluster("hetero3", 200)
    sollol = await createSollol({
      nodes: sim.nodes,
      upstreamFactory: sim.upstreamFactory,
      database: ":memory:",
      logLevel: "none",
      strategies,
      strategy: name
    })
    const res = await sollol.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hi" }], options: { num_predict: 4 } })
    expect(res.done).toBe(true)
    expect((res._sollol_routing as { reasoning: string }).reasoning).toMatch(new RegExp(`strategy ${name} failed .*took the first free candidate`))
  })
})
