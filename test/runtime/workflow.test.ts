import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { NodeRegistry } from "../../src/actors/NodeRegistry.js"
import { UpstreamError } from "../../src/domain/errors.js"
import { errorResponse } from "../../src/http/errorResponse.js"
import { DecisionLog } from "../../src/runtime/DecisionLog.js"
import { makeIntent } from "../../src/runtime/intent.js"
import { handle } from "../../src/runtime/workflow.js"
import { chatIntent, firstLineThen, hang, makeNodes, MODEL, recordingSink, refuse, reply, run, runtimeOf } from "../reliability/harness.js"
import type { Override, TestNode, WorkflowEnv } from "../reliability/harness.js"

/** The first inference call anywhere gets `first`; later calls reach the sim node. */
const firstCallOnly = (nodes: ReadonlyArray<TestNode>, first: Override) => {
  let used = false
  const o: Override = (r, a, id) => {
    if (used) return undefined
    used = true
    return first(r, a, id)
  }
  for (const n of nodes) n.override = o
}

const totalCalls = (nodes: ReadonlyArray<TestNode>) => nodes.reduce((s, n) => s + n.calls, 0)

const withRuntime = (names: ReadonlyArray<string>, config: Record<string, unknown>, body: (nodes: ReadonlyArray<TestNode>) => Effect.Effect<void, never, WorkflowEnv>) =>
  Effect.gen(function*() {
    const nodes = yield* makeNodes(names)
    yield* body(nodes).pipe(Effect.provide(runtimeOf(nodes, config)))
  })

describe("workflow retry rules", () => {
  it.scoped("retries a 500 on a different node", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        firstCallOnly(nodes, reply(500, { error: "boom" }))
        const out = yield* run()
        assert.strictEqual(out.status, 200)
        assert.deepStrictEqual(nodes.map((n) => n.calls), [1, 1])
        assert.strictEqual(out.headers?.["x-sollol-attempts"], "2")
      })))

  it.scoped("retries a refused connection on a different node", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        firstCallOnly(nodes, (_r, _a, nodeId) => Effect.fail(new UpstreamError({ nodeId, reason: "Transport" })))
        const out = yield* run()
        assert.strictEqual(out.status, 200)
        assert.deepStrictEqual(nodes.map((n) => n.calls), [1, 1])
      })))

  it.scoped("does not retry after the first byte: the stream ends with an error line", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        for (const n of nodes) n.override = firstLineThen("break")
        const out = yield* run(chatIntent({ stream: true }), recordingSink("ndjson"))
        assert.strictEqual(out.status, 200)
        assert.strictEqual(totalCalls(nodes), 1)
        assert.include(out.failed ?? "", "mid-stream")
        assert.include(out.body, "Hi")
      })))

  it.scoped("relays a 4xx without retrying", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        for (const n of nodes) n.override = reply(400, { error: "invalid options" })
        const out = yield* run()
        assert.strictEqual(out.status, 400)
        assert.include(out.body, "invalid options")
        assert.strictEqual(totalCalls(nodes), 1)
      })))

  it.scoped("retries a 404 on another node after refreshing the first node's models", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        firstCallOnly(nodes, reply(404, { error: "model 'llama3.2:3b' not found" }))
        const out = yield* run()
        assert.strictEqual(out.status, 200)
        assert.strictEqual(totalCalls(nodes), 2)
      })))

  it.scoped("does not retry when the retry budget is spent", () =>
    withRuntime(["a", "b"], { routing: { retryBudgetRatio: 0, retryBudgetMinPerSecond: 0 } }, (nodes) =>
      Effect.gen(function*() {
        firstCallOnly(nodes, reply(500, { error: "boom" }))
        const out = yield* run()
        assert.strictEqual(out.rejected?._tag, "UpstreamError")
        assert.strictEqual(errorResponse(out.rejected!).status, 500)
        assert.strictEqual(totalCalls(nodes), 1)
      })))

  it.scoped("does not hammer a sick cluster: attempts stay within requests × (1 + ratio) + floor", () =>
    withRuntime(["a", "b", "c"], {
      routing: { retryBudgetRatio: 0.2, retryBudgetMinPerSecond: 0.5 },
      health: { failureThreshold: 1_000 }
    }, (nodes) =>
      Effect.gen(function*() {
        for (const n of nodes) n.override = reply(500, { error: "sick" })
        const requests = 60
        for (let i = 0; i < requests; i++) yield* run()
        // floor = 0.5/s × 10 s window = 5; without the budget it would be 3 × 60 = 180
        assert.isAtMost(totalCalls(nodes), requests * 1.2 + 5)
        assert.isAtLeast(totalCalls(nodes), requests + 1)
      })))
})

describe("workflow timeouts", () => {
  it.scoped("a node that never answers gets a 504 naming the first-byte timeout", () =>
    withRuntime(["a"], { routing: { maxAttempts: 1 }, timeouts: { firstByteMs: 1_000 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = hang
        const out = yield* run()
        const r = errorResponse(out.rejected!)
        assert.strictEqual(r.status, 504)
        assert.include(r.body, "first-byte timeout")
        const views = yield* (yield* NodeRegistry).list
        assert.strictEqual(views[0]!.inFlight, 0)
      })))

  it.scoped("a stream that goes silent ends with an idle-timeout error line", () =>
    withRuntime(["a"], { timeouts: { idleMs: 500 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = firstLineThen("silent")
        const out = yield* run(chatIntent({ stream: true }), recordingSink("ndjson"))
        assert.include(out.failed ?? "", "idle timeout")
      })))

  it.scoped("embedding routes use their own limits", () =>
    withRuntime(["a"], { routing: { maxAttempts: 1 }, timeouts: { firstByteMs: 100_000, embedding: { firstByteMs: 700 } } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = hang
        const out = yield* run(chatIntent({ kind: "embed" }))
        assert.include(errorResponse(out.rejected!).body, "700 ms (embedding first-byte timeout)")
      })))

  it.scoped("a stream that trickles forever hits the total timeout", () =>
    withRuntime(["a"], { timeouts: { totalMs: 3_000, idleMs: 1_000 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = (_r, accept) =>
          Effect.gen(function*() {
            const sink = accept({ status: 200, headers: {} })
            for (;;) {
              sink.write(new TextEncoder().encode(`{"done":false}\n`))
              yield* Effect.sleep(200)
            }
          })
        const out = yield* run(chatIntent({ stream: true }), recordingSink("ndjson"))
        assert.include(out.failed ?? "", "total timeout")
      })))
})

describe("workflow record step", () => {
  it.scoped("a request the client abandons is recorded as aborted, and its slot is given back", () =>
    withRuntime(["a"], {}, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = firstLineThen("silent")
        const intent = chatIntent({ stream: true })
        const log = yield* DecisionLog
        const fiber = yield* Effect.fork(handle(intent, recordingSink("ndjson")))
        yield* TestClock.adjust(100)
        assert.strictEqual(nodes[0]!.calls, 1)
        // the client leaves: the HTTP layer interrupts the request's fiber
        yield* Fiber.interrupt(fiber)
        const decision = yield* log.get(intent.requestId)
        assert.strictEqual(decision?.outcome, "aborted")
        assert.strictEqual(decision?.node, "a")
        assert.strictEqual((yield* log.totals).all.aborted, 1)
        const views = yield* (yield* NodeRegistry).list
        assert.strictEqual(views[0]!.inFlight, 0)
      })))

  it.scoped("a request the gateway cuts at shutdown is recorded as an error with the status the client gets", () =>
    withRuntime(["a"], {}, (nodes) =>
      Effect.gen(function*() {
        // the first request's stream gets under way (committed: 200, then an error line); the second's node has not
        // answered yet (a 503)
        let calls = 0
        nodes[0]!.override = (r, accept, id) => calls++ === 0 ? firstLineThen("silent")(r, accept, id) : hang(r, accept, id)
        const log = yield* DecisionLog
        const cut = "the gateway is shutting down"
        const running = chatIntent({ stream: true })
        const queued = chatIntent({ stream: true })
        const fibers = []
        for (const intent of [running, queued]) {
          fibers.push(yield* Effect.fork(handle(intent, { ...recordingSink("ndjson"), cutReason: () => cut })))
          yield* TestClock.adjust(100)
        }
        yield* Effect.forEach(fibers, Fiber.interrupt)
        const [a, b] = [yield* log.get(running.requestId), yield* log.get(queued.requestId)]
        assert.deepStrictEqual([a?.outcome, a?.status, a?.error], ["error", 200, cut])
        assert.deepStrictEqual([b?.outcome, b?.status, b?.error], ["error", 503, "server is shutting down"])
        assert.strictEqual((yield* log.totals).all.aborted, 0)
      })))
})

describe("workflow defects", () => {
  it.scoped("a defect before the first byte answers 500 'internal error', never silence", () =>
    withRuntime(["a"], { routing: { maxAttempts: 1 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = () => Effect.die(new Error("a bug"))
        const out = yield* run()
        assert.strictEqual(out.rejected?._tag, "InternalError")
        const r = errorResponse(out.rejected!)
        assert.strictEqual(r.status, 500)
        assert.include(r.body, "internal error")
        const views = yield* (yield* NodeRegistry).list
        assert.strictEqual(views[0]!.inFlight, 0)
      })))
})

describe("workflow unload", () => {
  const unload = (kind: "chat" | "generate") =>
    makeIntent({
      kind,
      body: kind === "chat" ? { model: MODEL, messages: [], keep_alive: 0 } : { model: MODEL, keep_alive: 0 },
      priority: 5,
      arrivedAt: 0,
      path: `/api/${kind}`,
      headers: {}
    })

  for (const kind of ["generate", "chat"] as const) {
    it.scoped(`an unload by ${kind} goes to every node that has the model, and none keeps it`, () =>
      withRuntime(["a", "b", "c"], {}, (nodes) =>
        Effect.gen(function*() {
          const intent = unload(kind)
          assert.isTrue(intent.unloadOnly)
          const out = yield* run(intent)
          assert.strictEqual(out.status, 200)
          assert.include(out.body, `"done_reason":"unload"`)
          assert.strictEqual(out.headers?.["x-sollol-node"], "a,b,c")
          assert.strictEqual(out.headers?.["x-sollol-attempts"], "3")
          assert.deepStrictEqual(nodes.map((n) => n.calls), [1, 1, 1])
          for (const n of nodes) assert.notInclude((yield* n.sim.stats).loaded, MODEL)
          const decision = yield* (yield* DecisionLog).get(intent.requestId)
          assert.include(decision?.reasoning ?? "", "confirmed by a, b, c")
          const views = yield* (yield* NodeRegistry).list
          assert.deepStrictEqual(views.map((v) => v.inFlight), [0, 0, 0])
        })))
  }

  it.scoped("an unload is confirmed by the nodes that answer; a node that refuses is left out", () =>
    withRuntime(["a", "b"], {}, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = refuse
        const intent = unload("generate")
        const out = yield* run(intent)
        assert.strictEqual(out.status, 200)
        assert.strictEqual(out.headers?.["x-sollol-node"], "b")
        assert.deepStrictEqual(JSON.parse(out.body)._sollol_routing.nodes, ["b"])
        const decision = yield* (yield* DecisionLog).get(intent.requestId)
        assert.include(decision?.reasoning ?? "", "confirmed by b; not by a")
      })))

  it.scoped("an unload no node can take fails like any request: the node's error", () =>
    withRuntime(["a"], {}, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = refuse
        const out = yield* run(unload("generate"))
        assert.strictEqual(errorResponse(out.rejected!).status, 502)
      })))
})

describe("workflow breakers, back-off, panic mode and hedging", () => {
  it.scoped("a model that cannot load blocks that (node, model) only, never ejecting the node", () =>
    withRuntime(["a", "b"], { routing: { modelFailureThreshold: 2 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = reply(500, { error: "model requires more system memory (12.0 GiB) than is available (4.0 GiB)" })
        for (let i = 0; i < 12; i++) assert.strictEqual((yield* run()).status, 200)
        assert.isAtMost(nodes[0]!.calls, 2)
        const views = yield* (yield* NodeRegistry).list
        assert.strictEqual(views.find((v) => v.nodeId === "a")!.health, "healthy")
      })))

  it.scoped("a 503 server busy makes the node back off without counting as a failure", () =>
    withRuntime(["a", "b"], { routing: { busyBackoffMs: 60_000 } }, (nodes) =>
      Effect.gen(function*() {
        nodes[0]!.override = reply(503, { error: "server busy, please try again.  maximum pending requests exceeded" })
        for (let i = 0; i < 8; i++) assert.strictEqual((yield* run()).status, 200)
        assert.isAtMost(nodes[0]!.calls, 1)
        const views = yield* (yield* NodeRegistry).list
        assert.strictEqual(views.find((v) => v.nodeId === "a")!.consecutiveFailures, 0)
      })))

  it.scoped("when every node has just said \"server busy\", the request is answered at once, not queued behind them", () =>
    withRuntime(["a", "b"], { routing: { busyBackoffMs: 5_000 } }, (nodes) =>
      Effect.gen(function*() {
        const busy = "server busy, please try again.  maximum pending requests exceeded"
        for (const n of nodes) n.override = reply(503, { error: busy })
        // the first request tries both nodes and relays the last one's 503
        const first = yield* run(chatIntent(), recordingSink(), 1)
        assert.strictEqual(errorResponse(first.rejected!).status, 503)
        assert.strictEqual(totalCalls(nodes), 2)
        // the next ones find both backing off: 503 with Retry-After now, no node asked, no wait in the queue
        const clock = yield* Effect.clock
        const before = clock.unsafeCurrentTimeMillis()
        for (let i = 0; i < 5; i++) {
          const out = yield* run(chatIntent(), recordingSink(), 1)
          const answer = errorResponse(out.rejected!)
          assert.strictEqual(answer.status, 503)
          assert.strictEqual(out.rejected!.message, busy)
          assert.isAtLeast(Number(answer.headers["retry-after"]), 1)
        }
        assert.strictEqual(totalCalls(nodes), 2)
        assert.isAtMost(clock.unsafeCurrentTimeMillis() - before, 5) // `run` steps the clock 1 ms while a request runs
        // once the back-off is over, the nodes are asked again
        yield* TestClock.adjust(5_000)
        for (const n of nodes) n.override = undefined
        assert.strictEqual((yield* run()).status, 200)
      })))

  for (const panicMode of [false, true]) {
    it.scoped(`with every node excluded, ${panicMode ? "panic mode tries the least-recently-failed one" : "fails fast with 503"}`, () =>
      withRuntime(["a", "b"], { routing: { panicMode }, health: { failureThreshold: 1, baseCooldownMs: 600_000 } }, (nodes) =>
        Effect.gen(function*() {
          for (const n of nodes) n.override = reply(500, { error: "boom" })
          yield* run()
          const views = yield* (yield* NodeRegistry).list
          assert.deepStrictEqual(views.map((v) => v.health), ["excluded", "excluded"])
          for (const n of nodes) n.override = undefined
          const before = totalCalls(nodes)
          const out = yield* run()
          if (panicMode) {
            assert.strictEqual(out.status, 200)
            assert.strictEqual(totalCalls(nodes), before + 1)
          } else {
            assert.strictEqual(errorResponse(out.rejected!).status, 503)
            assert.strictEqual(totalCalls(nodes), before)
          }
        })))
  }

  it.scoped("hedges a slow request after the p95: the first answer wins and the loser is cancelled", () =>
    withRuntime(["a", "b"], { routing: { hedging: true, hedgeMinSamples: 5 } }, (nodes) =>
      Effect.gen(function*() {
        for (let i = 0; i < 10; i++) yield* run()
        let cancelled = 0
        firstCallOnly(nodes, () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void cancelled++))))
        const intent = chatIntent()
        const out = yield* run(intent)
        assert.strictEqual(out.status, 200)
        assert.strictEqual(cancelled, 1)
        const decision = yield* (yield* DecisionLog).get(intent.requestId)
        assert.isTrue(decision?.hedged)
        const views = yield* (yield* NodeRegistry).list
        assert.deepStrictEqual(views.map((v) => v.inFlight), [0, 0])
      })))
})
