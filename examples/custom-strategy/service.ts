/** A service that routes in process with its own strategy: the least busy node per slot, ties spread by request. */
import { Effect, Scope } from "effect"
import { createSollol, fromFunction, makeScenarioNodes, simUpstream } from "../../src/index.js"
import type { Candidate, RoutingIntent } from "../../src/index.js"

const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)
export const leastBusy = fromFunction("least-busy", (request: RoutingIntent, candidates: ReadonlyArray<Candidate>) => {
  const load = (c: Candidate) => c.inFlight / Math.max(1, c.slots)
  const best = Math.min(...candidates.map(load))
  const ties = candidates.filter((c) => load(c) === best)
  return ties[hash(request.requestId) % ties.length]
})

export const startService = async (scope: Scope.CloseableScope) => {
  const sim = await Effect.runPromise(Scope.extend(makeScenarioNodes("hetero3", { timeScale: 100 }), scope))
  const sollol = await createSollol({
    nodes: sim.map(({ spec }) => ({ url: `http://${spec.name}.sim`, name: spec.name })),
    strategies: { "least-busy": leastBusy },
    strategy: "least-busy",
    upstreamFactory: (id) => Effect.succeed(simUpstream(sim.find(({ spec }) => spec.name === id)!.node, id)),
    database: ":memory:"
  })
  return { sollol, ask: (q: string) => sollol.chat({ model: "llama3.2:3b", messages: [{ role: "user", content: q }] }) }
}
