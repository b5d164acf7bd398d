/**
 * Batch embedding wall time: 10,000 short documents over hetero3 (in-process simulated nodes) against the fast
 * node alone. Run: `npx tsx bench/batchEmbed.ts [docs] [timeScale]`. Prints both figures and the per-node shares.
 */
import { Effect, Exit, Scope } from "effect"
import { createSollol } from "../src/index.js"
import { makeScenarioNodes, simUpstream } from "../src/index.js"

const count = Number(process.argv[2] ?? 10_000)
const timeScale = Number(process.argv[3] ?? 2)
const docs = Array.from({ length: count }, (_, i) => `short document number ${i} on topic ${i % 97}, with a few more words`)

const run = async (only: ReadonlyArray<string> | undefined) => {
  const scope = Effect.runSync(Scope.make())
  const all = await Effect.runPromise(Scope.extend(makeScenarioNodes("hetero3", { timeScale }), scope))
  const nodes = all.filter(({ spec }) => only === undefined || only.includes(spec.name))
  const sollol = await createSollol({
    nodes: nodes.map(({ spec }) => ({ url: `http://${spec.name}.sim`, name: spec.name })),
    upstreamFactory: (id) => Effect.succeed(simUpstream(nodes.find(({ spec }) => spec.name === id)!.node, id)),
    database: ":memory:",
    logLevel: "none"
  })
  const started = performance.now()
  const res = await sollol.batchEmbed(docs, { model: "nomic-embed-text", batchSize: 64, dimensions: 16 })
  const ms = performance.now() - started
  await sollol.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { ms, shares: res._sollol_routing.docs_by_node }
}

const single = await run(["fast-gpu"])
const cluster = await run(undefined)
console.log(`batchEmbed of ${count} documents, timeScale ${timeScale}`)
console.log(`  fast-gpu alone: ${single.ms.toFixed(0)} ms`)
console.log(`  hetero3:        ${cluster.ms.toFixed(0)} ms (${(single.ms / cluster.ms).toFixed(2)}× faster)`)
console.log(`  shares:         ${JSON.stringify(cluster.shares)}`)
