/**
 * Failover, model-based (fc.commands): nodes fail (refuse everything, probes included) and recover, time moves,
 * requests arrive. Law: a request succeeds whenever at least one node with the model is up and has been up long
 * enough to serve out its longest cooldown and pass a probe.
 */
import { Clock, Effect, Runtime, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeNodes, run, runtimeOf } from "../test/reliability/harness.js"
import type { TestNode, WorkflowEnv } from "../test/reliability/harness.js"

const NODES = ["a", "b", "c"]
/** maxCooldown (2 s) + probe interval (0.5 s) + margin. */
const SETTLE_MS = 3_000

interface Model {
  /** Per node: undefined while failed, else when it last came up (virtual ms). */
  readonly upSince: Array<number | undefined>
}
interface Real {
  readonly nodes: ReadonlyArray<TestNode>
  readonly run: <A>(effect: Effect.Effect<A, never, WorkflowEnv>) => Promise<A>
}
type Cmd = fc.AsyncCommand<Model, Real>

const now = (real: Real) => real.run(Clock.currentTimeMillis)

const failNode = (i: number): Cmd => ({
  check: (m) => m.upSince[i] !== undefined,
  run: async (m, r) => {
    await r.run(r.nodes[i]!.sim.setFault({ mode: "refuse" }))
    m.upSince[i] = undefined
  },
  toString: () => `fail(${NODES[i]})`
})

const recoverNode = (i: number): Cmd => ({
  check: (m) => m.upSince[i] === undefined,
  run: async (m, r) => {
    await r.run(r.nodes[i]!.sim.setFault({ mode: "none" }))
    m.upSince[i] = await now(r)
  },
  toString: () => `recover(${NODES[i]})`
})

const advance = (ms: number): Cmd => ({
  check: () => true,
  run: async (_m, r) => {
    await r.run(TestClock.adjust(ms))
  },
  toString: () => `advance(${ms})`
})

const send: Cmd = {
  check: () => true,
  run: async (m, r) => {
    const at = await now(r)
    const settled = m.upSince.some((t) => t !== undefined && at - t >= SETTLE_MS)
    const out = await r.run(run())
    if (settled) expect(out.status, `rejected with ${out.rejected?.message}`).toBe(200)
    if (out.status === 200) expect(m.upSince.some((t) => t !== undefined)).toBe(true)
  },
  toString: () => "send"
}

const commands = fc.commands([
  fc.integer({ min: 0, max: 2 }).map(failNode),
  fc.integer({ min: 0, max: 2 }).map(recoverNode),
  fc.integer({ min: 100, max: 4_000 }).map(advance),
  fc.constant(send),
  fc.constant(send)
], { maxCommands: 30 })

describe("failover", () => {
  it("every request succeeds while a node with the model is up and settled", async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        await Effect.runPromise(Effect.gen(function*() {
          const nodes = yield* makeNodes(NODES)
          yield* Effect.gen(function*() {
            const runtime = yield* Effect.runtime<WorkflowEnv>()
            const start = yield* Clock.currentTimeMillis
            const real: Real = { nodes, run: (effect) => Runtime.runPromise(runtime)(effect) }
            yield* Effect.promise(() =>
              fc.asyncModelRun(() => ({ model: { upSince: NODES.map(() => start - SETTLE_MS) }, real }), cmds)
            )
          }).pipe(Effect.provide(runtimeOf(nodes, {
            health: { failureThreshold: 2, baseCooldownMs: 1_000, maxCooldownMs: 2_000, probeIntervalMs: 500, probeTimeoutMs: 200 }
          })))
        }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext)))
      }),
      { numRuns: 20, seed: 5_150_505 }
    )
  }, 60_000)
})
