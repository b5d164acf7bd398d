/**
 * One registered node: its scope (upstream, actor, load and probe fibers live and die together) and the facts the
 * probes learned about it.
 */
import { Clock, Effect, ExecutionStrategy, Exit, Scope, Stream } from "effect"
import type { Health } from "../domain/Health.js"
import type { NodeId } from "../domain/NodeId.js"
import type { Upstream } from "../domain/Upstream.js"
import { makeLoad } from "./load.js"
import type { Load } from "./load.js"
import * as NodeActor from "./NodeActor.js"
import type { NodeMachineInput } from "./nodeMachine.js"
import { forkEvery, probeLiveness, probeModels } from "./probe.js"
import type { InstalledModel, LoadedModel } from "./probe.js"
import { makeResidency } from "./residency.js"
import type { Residency } from "./residency.js"

export type Outcome =
  | { readonly ok: true; readonly latencyMs: number; readonly slow?: boolean }
  | { readonly ok: false; readonly reason: string }

export interface NodeHandle {
  readonly nodeId: NodeId
  readonly url: string
  readonly upstream: Upstream
  readonly actor: NodeActor.NodeActor
  readonly load: Load
  /** The models the gateway's own requests put on the node since `/api/ps` last looked. */
  readonly residency: Residency
  /** The model file `model` shares with other installed tags (`llama3.2`, `llama3.2:3b`): one runner, one speed. */
  readonly fileOf: (model: string) => ModelFile | undefined
  /** Tells the node's machine how a request went (the workflow calls it once per attempt). */
  readonly report: (outcome: Outcome) => Effect.Effect<void>
  /** `report({ ok: true, latencyMs })`, synchronously: the common outcome, on the hot path. */
  readonly succeeded: (latencyMs: number) => void
}

/** A model file installed under several tags: its digest (the key its one runner goes by) and those tags. */
export interface ModelFile {
  readonly digest: string
  readonly tags: ReadonlyArray<string>
}

/** The installed tags that share their model file (digest) with others, each mapped to that file. */
export const modelFiles = (installed: ReadonlyArray<InstalledModel>): ReadonlyMap<string, ModelFile> => {
  const byDigest = new Map<string, Array<string>>()
  for (const m of installed) {
    if (m.digest === "") continue
    const tags = byDigest.get(m.digest)
    if (tags === undefined) byDigest.set(m.digest, [m.name])
    else tags.push(m.name)
  }
  const out = new Map<string, ModelFile>()
  for (const [digest, tags] of byDigest) {
    if (tags.length < 2) continue
    const file = { digest, tags }
    for (const tag of tags) out.set(tag, file)
  }
  return out
}

/**
 * Counts one request for `model` on the node from now, in flight (load accounting) and as a user of the model's
 * runner (residency; `unloadsModel`: it asked for `keep_alive: 0`). The returned function, idempotent, ends both;
 * every exit path of the holder must call it.
 */
export const beginRequest = (handle: NodeHandle, model: string, unloadsModel = false): () => void => {
  const endLoad = handle.load.beginNow()
  const endUse = handle.residency.begin(model, unloadsModel)
  return () => {
    endLoad()
    endUse()
  }
}

export interface NodeSpec {
  readonly nodeId: NodeId
  readonly url: string
  /** Parallel slots; the registry's `defaultSlots` when absent. */
  readonly slots?: number
  /** Built in the node's own scope, closed when the node is removed. */
  readonly makeUpstream: Effect.Effect<Upstream, never, Scope.Scope>
}

export interface NodeFacts {
  /** `undefined` until `/api/tags` answered once. */
  readonly models: ReadonlyArray<InstalledModel> | undefined
  /** The model files installed under several tags (`modelFiles`), by tag. */
  readonly files: ReadonlyMap<string, ModelFile>
  readonly loaded: ReadonlyArray<LoadedModel>
  readonly lastProbeAt: number | undefined
  readonly lastError: string | undefined
  readonly lastFailureAt: number | undefined
}

export type RegistryEvent =
  | { readonly type: "node.added" | "node.removed"; readonly nodeId: NodeId }
  /** `drained`: an operator took the node out (admin drain or removal), not a failure. */
  | { readonly type: "health.changed"; readonly nodeId: NodeId; readonly health: Health; readonly drained?: true }

/** A node's facts: replaced (never mutated) by its probes, readable synchronously by the score step. */
export interface FactsCell {
  readonly get: Effect.Effect<NodeFacts>
  readonly current: () => NodeFacts
  readonly update: (f: (facts: NodeFacts) => NodeFacts) => Effect.Effect<void>
}

const makeFactsCell = (initial: NodeFacts): FactsCell => {
  let facts = initial
  return {
    get: Effect.sync(() => facts),
    current: () => facts,
    update: (f) =>
      Effect.sync(() => {
        facts = f(facts)
      })
  }
}

export interface EntryConfig {
  readonly livenessInterval: number
  readonly modelsInterval: number
  readonly probeTimeout: number
  readonly machine: NodeMachineInput
  readonly defaultSlots: number
  readonly ewmaDecayMs: number
}

export interface NodeEntry {
  readonly handle: NodeHandle
  readonly slots: number
  readonly scope: Scope.CloseableScope
  readonly facts: FactsCell
  /** One liveness probe now; its result goes to the machine. */
  readonly checkLiveness: Effect.Effect<void>
  /** One `/api/tags` + `/api/ps` probe now. */
  readonly refreshModels: Effect.Effect<void>
}

/**
 * 1. fork a child scope of `parent`; build upstream, actor and load in it;
 * 2. run one liveness and one models probe (each bounded by the probe timeout), so models are known at once;
 * 3. fork the health-change publisher and the two probe loops into the node's scope.
 * If building is interrupted the child scope is closed.
 */
export const makeEntry = (
  spec: NodeSpec,
  config: EntryConfig,
  parent: Scope.Scope,
  publish: (event: RegistryEvent) => Effect.Effect<void>
): Effect.Effect<NodeEntry> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    return yield* Effect.gen(function*() {
      const upstream = yield* spec.makeUpstream
      const actor = yield* NodeActor.make(config.machine)
      const load = yield* makeLoad({ decayMs: config.ewmaDecayMs })
      const facts = makeFactsCell({
        models: undefined,
        files: new Map(),
        loaded: [],
        lastProbeAt: undefined,
        lastError: undefined,
        lastFailureAt: undefined
      })
      const failed = (reason: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          facts.update((f) => ({ ...f, lastError: reason, lastFailureAt: now })))
      const probed = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        facts.update((f) => ({ ...f, lastProbeAt: now })))
      const checkLiveness = probeLiveness(upstream, config.probeTimeout).pipe(
        Effect.matchEffect({
          onFailure: (e) => Effect.zipRight(failed(e.message), actor.send({ type: "probe.failed" })),
          onSuccess: () => Effect.zipRight(probed, actor.send({ type: "probe.succeeded" }))
        })
      )
      const clock = yield* Effect.clock
      const fileOf = (model: string) => facts.current().files.get(model)
      const residency = makeResidency((model) => fileOf(model)?.digest ?? model, () => clock.unsafeCurrentTimeMillis())
      const refreshModels = Effect.flatMap(Clock.currentTimeMillis, (since) =>
        probeModels(upstream, config.probeTimeout).pipe(
          Effect.matchEffect({
            onFailure: (e) => facts.update((f) => ({ ...f, lastError: e.message })),
            onSuccess: (m) =>
              probed.pipe(
                Effect.zipRight(facts.update((f) => ({
                  ...f,
                  models: m.installed,
                  files: modelFiles(m.installed),
                  loaded: m.loaded
                }))),
                Effect.zipRight(Effect.sync(() => residency.settle(since)))
              )
          })
        ))
      const report = (outcome: Outcome) =>
        outcome.ok
          ? actor.send({
            type: "request.succeeded",
            latencyMs: outcome.latencyMs,
            ...(outcome.slow === true ? { slow: true } : {})
          })
          : Effect.zipRight(failed(outcome.reason), actor.send({ type: "request.failed", reason: outcome.reason }))

      yield* Effect.all([checkLiveness, refreshModels], { concurrency: 2, discard: true })
      const initial = yield* actor.health
      yield* actor.changes.pipe(
        Stream.mapAccum(initial, (previous, health) => [health, health === previous ? [] : [health]]),
        Stream.flattenIterables,
        Stream.runForEach((health) =>
          Effect.flatMap(actor.snapshot, (s) =>
            publish({ type: "health.changed", nodeId: spec.nodeId, health, ...(s.hasTag("drained") ? { drained: true } : {}) }))
        ),
        Effect.forkScoped
      )
      yield* forkEvery(checkLiveness, config.livenessInterval)
      yield* forkEvery(refreshModels, config.modelsInterval)
      const succeeded = (latencyMs: number) => actor.sendNow({ type: "request.succeeded", latencyMs })
      const handle: NodeHandle = {
        nodeId: spec.nodeId,
        url: spec.url,
        upstream,
        actor,
        load,
        residency,
        fileOf,
        report,
        succeeded
      }
      return { handle, slots: spec.slots ?? config.defaultSlots, scope, facts, checkLiveness, refreshModels }
    }).pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))
    )
  })
