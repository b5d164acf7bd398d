/**
 * µs per routing decision for every built-in strategy at 16 and 1,000 nodes, against the targets of issue 4
 * (< 20 µs at 16 nodes, < 200 µs at 1,000), as the gateway decides: `chooseNow` when the strategy has one, else its
 * `choose` Effect run synchronously. The `choose` column runs the Effect in a fiber loop, as an Effect user would.
 * Run: `npx tsx bench/decision.ts`.
 */
import { Effect, Exit, ManagedRuntime, Runtime } from "effect"
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

/** The median of `ROUNDS` timed rounds of `iterations` calls of `run` each, after a warm-up round, in µs per call. */
const medianRound = async (iterations: number, run: (k: number) => Promise<void>): Promise<number> => {
  await run(iterations)
  const rounds: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    await run(iterations)
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / iterations)
  }
  return rounds.sort((a, b) => a - b)[ROUNDS >> 1]!
}

/** µs per decision as the gateway makes it (`chooseNow` at the clock's time, else `choose` run synchronously). */
const viaGateway = async (name: string, candidates: ReadonlyArray<Candidate>, iterations: number) => {
  const runtime = ManagedRuntime.make(builtinStrategies[name as keyof typeof builtinStrategies])
  const strategy = await runtime.runPromise(Strategy)
  const clock = await runtime.runPromise(Effect.clock)
  const runSync = Runtime.runSyncExit(await runtime.runtime())
  const { chooseNow } = strategy
  const us = await medianRound(iterations, async (k) => {
    // a request that has just arrived, as the gateway decides for it (its wait shapes sollol's spill rule)
    const fresh = { ...intent, arrivedAt: clock.unsafeCurrentTimeMillis() }
    for (let i = 0; i < k; i++) {
      if (chooseNow !== undefined) chooseNow(fresh, candidates, clock.unsafeCurrentTimeMillis())
      else if (Exit.isFailure(runSync(strategy.choose(fresh, candidates)))) throw new Error(`${name} failed`)
    }
  })
  await runtime.dispose()
  return { us, direct: chooseNow !== undefined }
}

/** µs per decision through `choose` in a fiber loop, on a fresh build of the strategy. */
const viaEffect = async (name: string, candidates: ReadonlyArray<Candidate>, iterations: number) => {
  const runtime = ManagedRuntime.make(builtinStrategies[name as keyof typeof builtinStrategies])
  const clock = await runtime.runPromise(Effect.clock)
  const us = await medianRound(iterations, (k) => {
    const fresh = { ...intent, arrivedAt: clock.unsafeCurrentTimeMillis() }
    return runtime.runPromise(Effect.flatMap(Strategy, (s) =>
      Effect.gen(function*() {
        for (let i = 0; i < k; i++) yield* s.choose(fresh, candidates)
      })))
  })
  await runtime.dispose()
  return us
}

const rows: Array<Record<string, string>> = []
let missed = 0
for (const name of Object.keys(builtinStrategies)) {
  for (const n of [16, 1000]) {
    const iterations = n === 16 ? 20_000 : 1_000
    const { direct, us: gateway } = await viaGateway(name, cluster(n), iterations)
    const effect = await viaEffect(name, cluster(n), iterations)
    const target = TARGET_US[n]!
    if (gateway >= target) missed++
    rows.push({
      strategy: name,
      nodes: String(n),
      "µs/decision": gateway.toFixed(2),
      "as": direct ? "chooseNow" : "choose, run synchronously",
      "µs via choose": effect.toFixed(2),
      target: `< ${target}`,
      ok: gateway < target ? "yes" : "NO"
    })
  }
}
console.table(rows)
console.log(missed === 0 ? "every strategy meets its targets" : `${missed} measurement(s) over target`)
process.exitCode = missed === 0 ? 0 : 1
