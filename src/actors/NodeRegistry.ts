/**
 * The set of nodes: adds, removes and drains them at run time, answers "who can serve this model now" for the
 * workflow, and publishes membership and health changes. Every node lives in a child of the registry's scope.
 */
import { Clock, Context, Data, Duration, Effect, Exit, Layer, Option, PubSub, Scope, Stream } from "effect"
import type { Queue } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import { normalizeModel } from "../domain/Model.js"
import type { NodeId } from "../domain/NodeId.js"
import { makeEntry } from "./nodeEntry.js"
import type { EntryConfig, NodeEntry, NodeHandle, NodeSpec, RegistryEvent } from "./nodeEntry.js"
import { candidateAt, hasModel, servesNow, viewOf } from "./nodeViews.js"
import type { NodeView } from "./nodeViews.js"
import { defaultNodeMachineInput, healthOf, isRoutable } from "./nodeMachine.js"
import type { NodeMachineInput } from "./nodeMachine.js"

export { beginRequest } from "./nodeEntry.js"
export type { NodeHandle, NodeSpec, Outcome, RegistryEvent } from "./nodeEntry.js"
export type { NodeView } from "./nodeViews.js"
export type { InstalledModel, LoadedModel } from "./probe.js"

export interface RegistryConfig {
  /** Between liveness probes (`GET /api/version`). Default 5 s. */
  readonly livenessInterval: Duration.DurationInput
  /** Between model probes (`GET /api/tags` + `/api/ps`). Default 15 s. */
  readonly modelsInterval: Duration.DurationInput
  /** Bound on each probe request. Default 2 s. */
  readonly probeTimeout: Duration.DurationInput
  /** Health policy of every node. Default `defaultNodeMachineInput`. */
  readonly machine: NodeMachineInput
  /** Parallel slots of a node added without `slots`. Default 4. */
  readonly defaultSlots: number
  /** PeakEWMA decay time in ms. Default 10 000. */
  readonly ewmaDecayMs: number
  /** How long `remove` waits for in-flight requests before closing a node anyway. Default 30 s. */
  readonly removeDeadline: Duration.DurationInput
}

export class NodeRegistryError extends Data.TaggedError("NodeRegistryError")<{
  readonly reason: "Duplicate" | "NotFound"
  readonly nodeId: NodeId
}> {
  override get message() {
    return this.reason === "Duplicate" ? `node '${this.nodeId}' already exists` : `node '${this.nodeId}' not found`
  }
}

/** The options a request sets that decide whether a loaded runner fits it (`num_ctx`, …). */
type LoadOptions = Readonly<Record<string, number | string | boolean>>

export interface CandidateSet {
  /** Nodes with the model installed, whatever their health. */
  readonly hasModel: ReadonlyArray<NodeId>
  /** The routable ones among them. */
  readonly candidates: ReadonlyArray<Candidate>
  /** Routable nodes that have not listed their models yet (`/api/tags` never answered): they may have it. */
  readonly unlisted: number
  /** Nodes routable now, whatever their models: none means the cluster is down, not that the model is missing. */
  readonly routable: number
}

export interface NodeRegistryService {
  /** Adds a node after one liveness + models probe. A known id fails with `Duplicate` (remove it first). */
  readonly add: (spec: NodeSpec) => Effect.Effect<NodeHandle, NodeRegistryError>
  /** Drains, waits for in-flight to reach 0 (at most `deadline`, default `removeDeadline`), then closes the node. */
  readonly remove: (nodeId: NodeId, deadline?: Duration.DurationInput) => Effect.Effect<void, NodeRegistryError>
  /** Holds the node excluded (no new requests) until `include`. */
  readonly drain: (nodeId: NodeId) => Effect.Effect<void, NodeRegistryError>
  /** Ends a drain or a cooldown; the node takes traffic again after one successful probe (run at once). */
  readonly include: (nodeId: NodeId) => Effect.Effect<void, NodeRegistryError>
  readonly get: (nodeId: NodeId) => Option.Option<NodeHandle>
  readonly list: Effect.Effect<ReadonlyArray<NodeView>>
  /** Nodes with `model` installed (any health), and the routable ones among them as Candidates. */
  readonly candidates: (model: string, loadOptions?: LoadOptions) => Effect.Effect<CandidateSet>
  /** `candidates`, synchronously, at `now` (epoch ms on Effect's clock). */
  readonly candidatesNow: (model: string, loadOptions: LoadOptions | undefined, now: number) => CandidateSet
  /** Re-probes `/api/tags` and `/api/ps` now (after an upstream 404 for a model). */
  readonly refreshModels: (nodeId: NodeId) => Effect.Effect<void, NodeRegistryError>
  /** Panic mode: the excluded (not drained) node with `model` whose last failure is oldest. */
  readonly leastRecentlyFailed: (model: string) => Effect.Effect<Option.Option<NodeHandle>>
  /** Nodes that can serve now: routable by health, and with their models listed (`/api/tags` answered once). */
  readonly routableCount: Effect.Effect<number>
  /** Membership and health changes from the moment the stream is run. */
  readonly changes: Stream.Stream<RegistryEvent>
  /** Like `changes`, but subscribed when this effect runs (no event is missed after it returns). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<RegistryEvent>, never, Scope.Scope>
}

export class NodeRegistry extends Context.Tag("sollol/NodeRegistry")<NodeRegistry, NodeRegistryService>() {}

export const defaultRegistryConfig: RegistryConfig = {
  livenessInterval: "5 seconds",
  modelsInterval: "15 seconds",
  probeTimeout: "2 seconds",
  machine: defaultNodeMachineInput,
  defaultSlots: 4,
  ewmaDecayMs: 10_000,
  removeDeadline: "30 seconds"
}

export const make = (options: Partial<RegistryConfig> = {}): Effect.Effect<NodeRegistryService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = { ...defaultRegistryConfig, ...options }
    const entryConfig: EntryConfig = {
      livenessInterval: Duration.toMillis(config.livenessInterval),
      modelsInterval: Duration.toMillis(config.modelsInterval),
      probeTimeout: Duration.toMillis(config.probeTimeout),
      machine: config.machine,
      defaultSlots: config.defaultSlots,
      ewmaDecayMs: config.ewmaDecayMs
    }
    const scope = yield* Effect.scope
    const events = yield* Effect.acquireRelease(PubSub.unbounded<RegistryEvent>(), PubSub.shutdown)
    const publish = (event: RegistryEvent) => Effect.asVoid(PubSub.publish(events, event))
    // Owned by this registry instance; changed only inside Effect.sync, read synchronously by `get`.
    const nodes = new Map<NodeId, NodeEntry>()
    const removing = new Set<NodeId>()
    const lock = yield* Effect.makeSemaphore(1)

    const lookup = (nodeId: NodeId) =>
      Effect.suspend(() => {
        const entry = nodes.get(nodeId)
        return entry === undefined
          ? Effect.fail(new NodeRegistryError({ reason: "NotFound", nodeId }))
          : Effect.succeed(entry)
      })
    const duplicate = (nodeId: NodeId) =>
      Effect.suspend(() =>
        nodes.has(nodeId) ? Effect.fail(new NodeRegistryError({ reason: "Duplicate", nodeId })) : Effect.void
      )
    const live = Effect.sync(() => [...nodes.values()].filter((e) => !removing.has(e.handle.nodeId)))

    // Building is interruptible (it closes its own scope); once built, the node is registered or closed.
    const add = (spec: NodeSpec) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* restore(duplicate(spec.nodeId))
          const entry = yield* restore(makeEntry(spec, entryConfig, scope, publish))
          yield* lock.withPermits(1)(
            duplicate(spec.nodeId).pipe(
              Effect.tapError(() => Scope.close(entry.scope, Exit.void)),
              Effect.zipRight(Effect.sync(() => nodes.set(spec.nodeId, entry)))
            )
          )
          yield* publish({ type: "node.added", nodeId: spec.nodeId })
          return entry.handle
        })
      )

    const remove = (nodeId: NodeId, deadline: Duration.DurationInput = config.removeDeadline) =>
      Effect.gen(function*() {
        const entry = yield* lookup(nodeId)
        const claim = Effect.sync(() => removing.has(nodeId) ? false : Boolean(removing.add(nodeId)))
        if (!(yield* lock.withPermits(1)(claim))) return // another remove is already draining it
        yield* entry.handle.actor.send({ type: "admin.drain" })
        yield* entry.handle.load.awaitIdle.pipe(Effect.timeoutOption(deadline))
        yield* Scope.close(entry.scope, Exit.void)
        yield* Effect.sync(() => {
          nodes.delete(nodeId)
          removing.delete(nodeId)
        })
        yield* publish({ type: "node.removed", nodeId })
      })

    // One synchronous pass over plain fields: this runs for every request (and every waiter's look).
    const candidatesNow = (model: string, loadOptions: LoadOptions | undefined, now: number) => {
        const name = normalizeModel(model)
        const withModel: Array<NodeId> = []
        const built: Array<Candidate> = []
        let unlisted = 0
        let routable = 0
        for (const entry of nodes.values()) {
          // a node being removed still has its models (its requests are not "model not found"), but takes no more
          const leaving = removing.has(entry.handle.nodeId)
          const facts = entry.facts.current()
          const s = entry.handle.actor.current()
          const up = !leaving && isRoutable(s)
          if (up) {
            routable++
            if (facts.models === undefined) unlisted++
          }
          if (!hasModel(facts, name)) continue
          withModel.push(entry.handle.nodeId)
          if (up) built.push(candidateAt(entry, s, name, loadOptions, now))
        }
        return { hasModel: withModel, candidates: built, unlisted, routable }
      }
    const candidates = (model: string, loadOptions?: LoadOptions) =>
      Effect.map(Clock.currentTimeMillis, (now) => candidatesNow(model, loadOptions, now))

    const leastRecentlyFailed = (model: string) =>
      Effect.gen(function*() {
        const name = normalizeModel(model)
        let best: { readonly handle: NodeHandle; readonly at: number } | undefined
        for (const entry of yield* live) {
          const facts = yield* entry.facts.get
          const s = yield* entry.handle.actor.snapshot
          if (!hasModel(facts, name) || healthOf(s) !== "excluded" || s.hasTag("drained")) continue
          const at = facts.lastFailureAt ?? Number.NEGATIVE_INFINITY
          if (best === undefined || at < best.at) best = { handle: entry.handle, at }
        }
        return Option.fromNullable(best?.handle)
      })

    return {
      add,
      remove,
      drain: (nodeId) => Effect.flatMap(lookup(nodeId), (e) => e.handle.actor.send({ type: "admin.drain" })),
      include: (nodeId) =>
        Effect.flatMap(lookup(nodeId), (e) =>
          Effect.zipRight(e.handle.actor.send({ type: "admin.include" }), e.checkLiveness)),
      get: (nodeId) => Option.fromNullable(nodes.get(nodeId)?.handle),
      list: Effect.flatMap(Effect.sync(() => [...nodes.values()]), (es) => Effect.forEach(es, viewOf)),
      candidates,
      candidatesNow,
      refreshModels: (nodeId) => Effect.flatMap(lookup(nodeId), (e) => e.refreshModels),
      leastRecentlyFailed,
      routableCount: Effect.map(live, (es) => es.filter((e) => servesNow(e.handle.actor.current(), e.facts.current())).length),
      changes: Stream.fromPubSub(events),
      subscribe: PubSub.subscribe(events)
    } satisfies NodeRegistryService
  })

export const layer = (options: Partial<RegistryConfig> = {}): Layer.Layer<NodeRegistry> =>
  Layer.scoped(NodeRegistry, make(options))
