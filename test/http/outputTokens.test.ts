/** A key's tokens-per-minute are charged with what the node generated, not with the estimate. */
import { Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { outputTokensOf } from "../../src/http/inference.js"
import type { DecisionRecord } from "../../src/runtime/DecisionLog.js"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const decision = (outcome: DecisionRecord["outcome"], outputTokens?: number) =>
  ({ outcome, ...(outputTokens !== undefined ? { outputTokens } : {}) }) as DecisionRecord

describe("outputTokensOf", () => {
  it("charges the reported count, the estimate when unknown, nothing for a failure without an answer", () => {
    expect(outputTokensOf(Exit.succeed(decision("ok", 7)), 250)).toBe(7)
    expect(outputTokensOf(Exit.succeed(decision("ok")), 250)).toBe(250)
    expect(outputTokensOf(Exit.succeed(decision("error")), 250)).toBe(0)
    expect(outputTokensOf(Exit.succeed(undefined), 250)).toBe(250) // a batch split across nodes
    expect(outputTokensOf(Exit.interrupt(0 as never), 250)).toBe(250) // the client left mid-way
  })
})

describe("decision records", () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(() => cluster.close())

  it("carry the eval_count the node reported, streamed or not", async () => {
    for (const stream of [false, true]) {
      const res = await fetch(`${cluster.url}/api/chat`, {
        method: "POST",
        body: JSON.stringify({ model: "llama3.2:3b", messages: [{ role: "user", content: "Hello!" }], stream })
      })
      const text = await res.text()
      const last = JSON.parse(text.trim().split("\n").at(-1)!) as { eval_count: number }
      const id = res.headers.get("x-sollol-request-id")!
      const record = (await (await fetch(`${cluster.url}/api/sollol/decisions/${id}`)).json()) as DecisionRecord
      expect(last.eval_count).toBeGreaterThan(0)
      expect(record.outputTokens).toBe(last.eval_count)
    }
  })
})
