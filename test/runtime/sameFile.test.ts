import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeIntent } from "../../src/runtime/intent.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import { recordingSink, run, runtimeOf } from "../reliability/harness.js"
import type { TestNode } from "../reliability/harness.js"

const ask = (model: string) =>
  run(makeIntent({
    kind: "chat",
    body: { model, messages: [{ role: "user", content: "Hello" }], stream: false, options: { num_predict: 50 } },
    priority: 5,
    arrivedAt: 0,
    path: "/api/chat",
    headers: {}
  }), recordingSink(), 10)

describe("tags of one model file (llama3.2 and llama3.2:3b)", () => {
  it.scoped("share the node's loaded runner and what it learned of that runner", () =>
    Effect.gen(function*() {
      // one consumer GPU with both tags, llama3.2:3b warm; 50 tokens at its 130 tok/s take about 385 ms
      const sim = yield* makeSimNode({ name: "gpu", profile: "gpu-consumer", models: ["llama3.2:3b", "llama3.2"], preload: ["llama3.2:3b"], seed: 1 })
      const nodes: ReadonlyArray<TestNode> = [{ name: "gpu", sim, calls: 0, override: undefined }]
      yield* Effect.gen(function*() {
        yield* ask("llama3.2:3b")
        const out = yield* ask("llama3.2")
        assert.strictEqual(out.status, 200)
        assert.isBelow(JSON.parse(out.body).load_duration as number, 1e7)
        const reasoning = String(out.headers?.["x-sollol-reasoning"])
        // no load (the runner is up under the other tag), and the decode rate that tag taught, not the default
        // 30 tok/s (1.7 s)
        assert.match(reasoning, /load 0,/)
        const decodeMs = Number(/decode (\d+) ms/.exec(reasoning)?.[1])
        assert.isAbove(decodeMs, 300)
        assert.isBelow(decodeMs, 500)
      }).pipe(Effect.provide(runtimeOf(nodes)))
    }))
})
