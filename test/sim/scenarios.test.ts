import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { NodeId } from "../../src/domain/NodeId.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { makeScenarioNodes, scenarios, startScenario } from "../../src/sim/scenarios.js"

describe("scenarios", () => {
  it.scoped("hetero3 is a fast GPU, a mid GPU and a CPU, and the CPU is the slowest", () =>
    Effect.gen(function*() {
      const nodes = yield* makeScenarioNodes("hetero3", { seed: 1 })
      assert.deepStrictEqual(nodes.map((n) => n.node.profile.name), ["gpu-datacenter", "gpu-consumer", "cpu"])
      const body = new TextEncoder().encode(JSON.stringify({ model: "llama3.2:3b", prompt: "hello there", stream: false, options: { num_predict: 20 } }))
      const bodies: Array<string> = ["", "", ""]
      const fibers = yield* Effect.forEach(nodes, ({ node }, i) =>
        Effect.fork(simUpstream(node, NodeId(node.name)).send({ method: "POST", path: "/api/generate", headers: {}, body }, () => ({
          write: (c) => void (bodies[i] += new TextDecoder().decode(c))
        }))))
      yield* TestClock.adjust("10 seconds")
      for (const f of fibers) yield* Fiber.join(f)
      const totals = bodies.map((b) => (JSON.parse(b) as { total_duration: number }).total_duration)
      assert.isBelow(totals[0]!, totals[1]!)
      assert.isBelow(totals[1]!, totals[2]!)
      const served = yield* Effect.forEach(nodes, ({ node }) => Effect.map(node.stats, (s) => s.served))
      assert.deepStrictEqual(served, [1, 1, 1])
    }))

  it.scoped("the in-process upstream reports errors with its own node id and a sim:// url", () =>
    Effect.gen(function*() {
      const [first] = yield* makeScenarioNodes("homogeneous3")
      yield* first!.node.setFault({ mode: "refuse" })
      const up = simUpstream(first!.node, NodeId("gpu-a:1"))
      assert.strictEqual(up.url, "sim://gpu-a")
      const err = yield* Effect.flip(up.send({ method: "GET", path: "/api/tags", headers: {}, body: undefined }, () => ({ write: () => {} })))
      assert.strictEqual(err.nodeId, "gpu-a:1")
    }))

  it.scoped("modelsplit puts different models on different nodes and flaky has one flapping node", () =>
    Effect.gen(function*() {
      const split = scenarios.modelsplit.nodes.map((n) => n.models.join(","))
      assert.strictEqual(new Set(split).size, 3)
      assert.deepStrictEqual(scenarios.flaky.nodes.map((n) => n.fault?.mode ?? "none"), ["none", "none", "flap"])
    }))

  it.scopedLive("startScenario serves every node over HTTP", () =>
    Effect.gen(function*() {
      const nodes = yield* startScenario("hetero3", { timeScale: 1000 })
      const tags = yield* Effect.forEach(nodes, ({ url }) =>
        Effect.promise(() => fetch(`${url}/api/tags`).then((r) => r.json() as Promise<{ models: Array<unknown> }>)))
      assert.deepStrictEqual(tags.map((t) => t.models.length > 0), [true, true, true])
    }))
})
