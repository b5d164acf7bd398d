import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Queue, Ref, Scope, TestClock } from "effect"
import * as NodeRegistry from "../../src/actors/NodeRegistry.js"
import { UpstreamError } from "../../src/domain/errors.js"
import { NodeId } from "../../src/domain/NodeId.js"
import type { Upstream } from "../../src/domain/Upstream.js"

const expiresAt = "2030-01-01T00:00:00Z"
type Reply = { readonly status: number; readonly body: unknown } | "refuse" | "hang"
type Behaviour = (path: string) => Reply

const ollama = (models: ReadonlyArray<string>, loaded: ReadonlyArray<string> = []): Behaviour => (path) =>
  path === "/api/version"
    ? { status: 200, body: { version: "0.12.0" } }
    : path === "/api/tags"
    ? { status: 200, body: { models: models.map((name, i) => ({ name, digest: `d${i}`, size: 1000 + i })) } }
    : path === "/api/ps"
    ? {
      status: 200,
      body: {
        models: loaded.map((name) => ({ name, size_vram: 42, expires_at: expiresAt, context_length: 4_096 }))
      }
    }
    : { status: 404, body: { error: "not found" } }

/** A fake node: replies come from a swappable function of the path; counts its open upstreams. */
const fakeNode = (id: string, behaviour: Behaviour) =>
  Effect.gen(function*() {
    const nodeId = NodeId(id)
    const behave = yield* Ref.make(behaviour)
    const open = yield* Ref.make(0)
    const upstream: Upstream = {
      nodeId,
      url: `http://${id}`,
      send: (request, accept) =>
        Effect.flatMap(Ref.get(behave), (f) => {
          const reply = f(request.path)
          if (reply === "refuse") return Effect.fail(new UpstreamError({ nodeId, reason: "Transport" }))
          if (reply === "hang") return Effect.never
          return Effect.sync(() =>
            accept({ status: reply.status, headers: {} }).write(Buffer.from(JSON.stringify(reply.body)))
          )
        })
    }
    const makeUpstream = Effect.acquireRelease(Effect.as(Ref.update(open, (n) => n + 1), upstream), () =>
      Ref.update(open, (n) => n - 1))
    return { spec: { nodeId, url: upstream.url, makeUpstream }, behave, open, nodeId }
  })

const ids = (xs: ReadonlyArray<{ readonly nodeId: string }>) => xs.map((x) => x.nodeId).sort()
const health = (registry: NodeRegistry.NodeRegistryService, id: string) =>
  Effect.map(registry.list, (vs) => vs.find((v) => v.nodeId === id)?.health)

describe("NodeRegistry", () => {
  it.scoped("knows each node's models as soon as add returns, normalised with digest and size", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["Llama3", "qwen:7b"], ["llama3:latest"]))
      const handle = yield* registry.add(a.spec)
      assert.strictEqual(handle.nodeId, "a:1")
      const [view] = yield* registry.list
      assert.deepStrictEqual(view?.models, [
        { name: "llama3:latest", digest: "d0", size: 1000 },
        { name: "qwen:7b", digest: "d1", size: 1001 }
      ])
      assert.deepStrictEqual(view?.loaded, [
        { name: "llama3:latest", size: 0, sizeVram: 42, expiresAt: "2030-01-01T00:00:00Z", contextLength: 4096 }
      ])
      assert.strictEqual(view?.slots, 4)
      assert.isDefined(view?.lastProbeAt)
      const { candidates, hasModel } = yield* registry.candidates("LLAMA3")
      assert.deepStrictEqual(hasModel, [a.nodeId])
      assert.strictEqual(candidates[0]?.modelLoaded, true)
      assert.strictEqual(candidates[0]?.health, "healthy")
      assert.strictEqual(candidates[0]?.preferred, true)
      assert.strictEqual(candidates[0]?.optionsMatch, true)
      assert.strictEqual((yield* registry.candidates("llama3", { num_ctx: 8192 })).candidates[0]?.optionsMatch, false)
      assert.strictEqual((yield* registry.candidates("qwen:7b")).candidates[0]?.modelLoaded, false)
      assert.isTrue(Option.isSome(registry.get(a.nodeId)))
    }))

  it.scoped("filters candidates by model and by health; excluded nodes still count as having the model", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const b = yield* fakeNode("b:1", ollama(["llama3", "qwen:7b"]))
      const hb = yield* registry.add(b.spec)
      yield* registry.add({ ...a.spec, slots: 2 })
      assert.deepStrictEqual(ids((yield* registry.candidates("qwen:7b")).candidates), ["b:1"])
      assert.deepStrictEqual((yield* registry.candidates("mistral")).hasModel, [])
      yield* Effect.forEach([1, 2, 3], () => hb.report({ ok: false, reason: "500" }))
      const llama = yield* registry.candidates("llama3")
      assert.deepStrictEqual([...llama.hasModel].sort(), ["a:1", "b:1"])
      assert.deepStrictEqual(ids(llama.candidates), ["a:1"])
      assert.strictEqual(llama.candidates[0]?.slots, 2)
      assert.deepStrictEqual((yield* registry.candidates("qwen:7b")).candidates, [])
      assert.strictEqual(yield* registry.routableCount, 1)
      const view = (yield* registry.list).find((v) => v.nodeId === "b:1")
      assert.strictEqual(view?.lastError, "500")
      assert.strictEqual(view?.ejections, 1)
    }))

  it.scoped("liveness probes mark a node down and, after the cooldown and a good probe, up again", () =>
    Effect.gen(function*() {
      const machine = { ...NodeRegistry.defaultRegistryConfig.machine, baseCooldownMs: 7_000 }
      const registry = yield* NodeRegistry.make({ machine })
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const handle = yield* registry.add(a.spec)
      yield* Ref.set(a.behave, () => "refuse")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* health(registry, "a:1"), "healthy") // one probe failure of two
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* health(registry, "a:1"), "excluded")
      assert.strictEqual(yield* registry.routableCount, 0)
      yield* Ref.set(a.behave, ollama(["llama3"]))
      yield* TestClock.adjust("7 seconds") // t = 17 s: cooldown over, waiting for the probe at t = 20 s
      assert.strictEqual(yield* health(registry, "a:1"), "recovering")
      assert.strictEqual(yield* registry.routableCount, 0)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(yield* registry.routableCount, 1)
      yield* Effect.forEach([1, 2, 3], () => handle.report({ ok: true, latencyMs: 20 }))
      assert.strictEqual(yield* health(registry, "a:1"), "healthy")
    }))

  it.scoped("a probe that hangs fails after the probe timeout", () =>
    Effect.gen(function*() {
      const machine = { ...NodeRegistry.defaultRegistryConfig.machine, maxProbeFailures: 1 }
      const registry = yield* NodeRegistry.make({ probeTimeout: "1 second", machine })
      const a = yield* fakeNode("a:1", () => "hang")
      const adding = yield* Effect.fork(registry.add(a.spec))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(adding)
      const [view] = yield* registry.list
      assert.strictEqual(view?.health, "excluded")
      assert.match(view?.lastError ?? "", /Timeout/)
      assert.deepStrictEqual(view?.models, [])
      assert.deepStrictEqual((yield* registry.candidates("llama3")).hasModel, [])
    }))

  it.scoped("a node whose models are unknown has none, until refreshModels succeeds", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const good = ollama(["llama3"])
      const tagsBroken: Behaviour = (path) => path === "/api/tags" ? { status: 500, body: { error: "x" } } : good(path)
      const a = yield* fakeNode("a:1", tagsBroken)
      yield* registry.add(a.spec)
      assert.deepStrictEqual((yield* registry.candidates("llama3")).hasModel, [])
      yield* Ref.set(a.behave, good)
      yield* registry.refreshModels(a.nodeId)
      assert.deepStrictEqual((yield* registry.candidates("llama3")).hasModel, [a.nodeId])
    }))

  it.scoped("a model is loaded under any tag of its file, and resident while the gateway's own requests say so", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", (path) =>
        path === "/api/tags"
          ? {
            status: 200,
            body: { models: ["llama3:latest", "llama3:8b"].map((name) => ({ name, digest: "dl" })).concat({ name: "qwen:7b", digest: "dq" }) }
          }
          : path === "/api/ps"
          ? { status: 200, body: { models: [{ name: "llama3:8b", digest: "dl", size_vram: 1, expires_at: expiresAt }] } }
          : { status: 200, body: { version: "0.12.0" } })
      const handle = yield* registry.add(a.spec)
      const loaded = (model: string) => Effect.map(registry.candidates(model), (c) => c.candidates[0]?.modelLoaded)
      assert.isTrue(yield* loaded("llama3"))
      assert.isFalse(yield* loaded("qwen:7b"))
      // a request holds a slot for the cold model: it is loading there from now on
      const end = NodeRegistry.beginRequest(handle, "qwen:7b")
      assert.isTrue(yield* loaded("qwen:7b"))
      end()
      assert.isTrue(yield* loaded("qwen:7b"))
      // an /api/ps taken after the request ended is the truth again (this node never lists it)
      yield* TestClock.adjust("1 second")
      yield* registry.refreshModels(a.nodeId)
      assert.isFalse(yield* loaded("qwen:7b"))
      // keep_alive 0 on another tag of the loaded file: the runner goes when the request ends
      NodeRegistry.beginRequest(handle, "llama3:latest", true)()
      assert.isFalse(yield* loaded("llama3:8b"))
    }))

  it.scoped("the models probe repeats on its interval", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make({ modelsInterval: "15 seconds" })
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      yield* registry.add(a.spec)
      yield* Ref.set(a.behave, ollama(["llama3", "phi3"]))
      yield* TestClock.adjust("14 seconds")
      assert.deepStrictEqual((yield* registry.candidates("phi3")).hasModel, [])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual((yield* registry.candidates("phi3")).hasModel, [a.nodeId])
    }))

  it.scoped("refuses a duplicate id and closes the duplicate's upstream", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      yield* registry.add(a.spec)
      const again = yield* Effect.exit(registry.add(a.spec))
      const duplicate = new NodeRegistry.NodeRegistryError({ reason: "Duplicate", nodeId: a.nodeId })
      assert.deepStrictEqual(again, Exit.fail(duplicate))
      assert.strictEqual(yield* Ref.get(a.open), 1)
      const missing = yield* Effect.flip(registry.drain(NodeId("zz:1")))
      assert.strictEqual(missing.reason, "NotFound")
    }))

  it.scoped("drain stops new traffic until include, which probes at once", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      yield* registry.add(a.spec)
      yield* registry.drain(a.nodeId)
      assert.deepStrictEqual((yield* registry.candidates("llama3")).candidates, [])
      yield* TestClock.adjust("1 minute")
      assert.isTrue((yield* registry.list)[0]?.drained)
      assert.strictEqual(yield* registry.routableCount, 0)
      yield* registry.include(a.nodeId)
      const [c] = (yield* registry.candidates("llama3")).candidates
      assert.strictEqual(c?.health, "recovering")
    }))

  it.scoped("remove drains, waits for in-flight requests, then closes the node", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const handle = yield* registry.add(a.spec)
      const request = yield* Effect.fork(handle.load.track(Effect.sleep("10 seconds")))
      yield* TestClock.adjust("1 millis")
      const removing = yield* Effect.fork(registry.remove(a.nodeId))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* registry.candidates("llama3")).candidates, [])
      assert.strictEqual(yield* Ref.get(a.open), 1)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(request)
      yield* Fiber.join(removing)
      assert.strictEqual(yield* Ref.get(a.open), 0)
      assert.isTrue(Option.isNone(registry.get(a.nodeId)))
      assert.deepStrictEqual(yield* registry.list, [])
    }))

  it.scoped("remove closes the node at the deadline even if a request never ends", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const handle = yield* registry.add(a.spec)
      yield* Effect.fork(handle.load.track(Effect.never))
      const removing = yield* Effect.fork(registry.remove(a.nodeId, "3 seconds"))
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(removing)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(removing)
      assert.strictEqual(yield* Ref.get(a.open), 0)
    }))

  it.scoped("panic mode picks the excluded node whose last failure is oldest", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const b = yield* fakeNode("b:1", ollama(["llama3"]))
      const ha = yield* registry.add(a.spec)
      const hb = yield* registry.add(b.spec)
      const failThrice = (h: NodeRegistry.NodeHandle) =>
        Effect.forEach([1, 2, 3], () => h.report({ ok: false, reason: "x" }))
      assert.isTrue(Option.isNone(yield* registry.leastRecentlyFailed("llama3")))
      yield* failThrice(hb)
      yield* TestClock.adjust("1 second")
      yield* failThrice(ha)
      assert.strictEqual(Option.getOrThrow(yield* registry.leastRecentlyFailed("llama3")).nodeId, "b:1")
      yield* registry.drain(b.nodeId)
      assert.strictEqual(Option.getOrThrow(yield* registry.leastRecentlyFailed("llama3")).nodeId, "a:1")
      assert.isTrue(Option.isNone(yield* registry.leastRecentlyFailed("qwen")))
    }))

  it.scoped("publishes membership and health changes", () =>
    Effect.gen(function*() {
      const registry = yield* NodeRegistry.make()
      const events = yield* registry.subscribe
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const handle = yield* registry.add(a.spec)
      yield* Effect.forEach([1, 2, 3], () => handle.report({ ok: false, reason: "x" }))
      yield* TestClock.adjust("1 millis")
      yield* registry.remove(a.nodeId)
      assert.deepStrictEqual(Chunk.toArray(yield* Queue.takeAll(events)), [
        { type: "node.added", nodeId: a.nodeId },
        { type: "health.changed", nodeId: a.nodeId, health: "excluded" },
        { type: "node.removed", nodeId: a.nodeId }
      ])
    }))

  it.effect("closing the registry's scope closes every node", () =>
    Effect.gen(function*() {
      const a = yield* fakeNode("a:1", ollama(["llama3"]))
      const scope = yield* Scope.make()
      const registry = yield* Scope.extend(NodeRegistry.make(), scope)
      yield* registry.add(a.spec)
      assert.strictEqual(yield* Ref.get(a.open), 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Ref.get(a.open), 0)
    }))
})
