import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { checkStrategyLaws } from "../src/testing.js"
import { leastBusy, startService } from "./custom-strategy/service.js"

describe("the custom-strategy example", () => {
  it("serves chat through its own strategy", async () => {
    const scope = Effect.runSync(Scope.make())
    const { ask, sollol } = await startService(scope)
    try {
      const answers = await Promise.all(["a", "b", "c", "d", "e", "f"].map(ask))
      const routing = answers.map((a) => a["_sollol_routing"] as { strategy: string; node: string; reasoning: string })
      expect(routing.every((r) => r.strategy === "least-busy")).toBe(true)
      expect(routing[0]?.reasoning).toContain("least-busy: custom choice")
      expect(new Set(routing.map((r) => r.node)).size).toBeGreaterThan(1)
    } finally {
      await sollol.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("passes the strategy laws", async () => {
    await checkStrategyLaws(leastBusy, { numRuns: 50 })
  }, 30_000)
})
