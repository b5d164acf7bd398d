/**
 * µs per routing decision (`strategy.choose` over the candidates) for every built-in strategy at 16 and 1,000
 * nodes, against the targets of issue 4 (< 20 µs at 16 nodes, < 200 µs at 1,000). Run: `npx tsx bench/decision.ts`.
 */
import { Effect, ManagedRuntime } from "effect"
import type { Candidate } from "../src/domain/Candidate.js"
import { NodeId } from "../src/domain/NodeId.js"
import { makeIntent } from "../src/runtime/intent.js"
import { builtinStrategies } from "../src/strategies/catalog.js"
import { Strategy } from "../src/strategies/Strategy.js"

const TARGET_US: Readonly<Record<number, number>> = { 16: 20, 1000: 200 }

/** A varied cluster: mixed health, load, speed, loaded models and learned figures (seeded, no Math.random). */
const cluster = (n: number): ReadonlyArray<Candidate> =>
  Array.from({ length: n }, (_, i): Candidate => ({
    nodeId: NodeId(`node-${i}`),
    health: i % 11 === 0 ? "degraded" : "healthy",
    preferred: i % 11 !== 0,
    inFlight: (i * 7) % 5,
    slots: 4,
    ewmaMs: 200 + ((i * 37) % 900),
    modelLoaded: i % 3 !== 0,
    optionsMatch: i % 5 !== 0,
    recentFailures: i % 13 === 0 ? 1 : 0,
    perf: i % 4 === 0 ? undefined : {
      prefillTps: 500 + ((i * 131) % 8000),
      decodeTps: 15 + ((i * 17) % 200),
      loadMs: 1500 + ((i * 53) % 4000),
      ttftMs: 50 + (i % 300),
      successRate: 0.9 + (i % 10) / 100,
      samples: 10
    }
  }))

const intent = makeIntent({
  kind: "chat",
  body: { model: "llama3.2:3b", messages: [{ role: "system", content: "You help." }, { role: "user", content: "Explain why the sky is blue." }] },
  priority: 5,
  arrivedAt: 0,
  path: "/api/chat",
  headers: {},
  requestId: "bench"
})

/** Timed rounds per measurement; the median round is reported, so a burst of noise on a shared machine is ignored. */
const ROUNDS = 7

/** µs per decision: the median over `ROUNDS` rounds of `iterations` decisions each, after a warm-up round. */
const measure = async (name: string, candidates: ReadonlyArray<Candidate>, iterations: number): Promise<number> => {
  const runtime = ManagedRuntime.make(builtinStrategies[name as keyof typeof builtinStrategies])
  const loop = (k: number) =>
    Effect.flatMap(Strategy, (s) =>
      Effect.gen(function*() {
        for (let i = 0; i < k; i++) yield* s.choose(intent, candidates)
      }))
  await runtime.runPromise(loop(iterations))
  const rounds: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    await runtime.runPromise(loop(iterations))
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / iterations)
  }
  await runtime.dispose()
  return rounds.sort((a, b) => a - b)[ROUNDS >> 1]!
}

const rows: Array<Record<string, string>> = []
let missed = 0
for (const name of Object.keys(builtinStrategies)) {
  for (const n of [16, 1000]) {
    const us = await measure(name, cluster(n), n === 16 ? 20_000 : 1_000)
    const target = TARGET_US[n]!
    if (us >= target) missed++
    rows.push({ strategy: name, nodes: String(n), "µs/decision": us.toFixed(2), target: `< ${target}`, ok: us < target ? "yes" : "NO" })
  }
}
console.table(rows)
console.log(missed === 0 ? "every strategy meets its targets" : `${missed} measurement(s) over target`)
process.exitCode = missed === 0 ? 0 : 1
