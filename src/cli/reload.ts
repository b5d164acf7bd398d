/**
 * `sollol serve`'s config reload (SIGHUP): the sources are read again exactly as at startup (`loadConfig`) and the
 * node list is applied to the running registry the way the admin API adds and removes nodes. Every other setting
 * is fixed at startup: a change to one is reported, not applied. An invalid config changes nothing.
 */
import { Console, Effect, Either, Ref } from "effect"
import type { AppConfig } from "../AppConfig.js"
import type { NodeRegistryService } from "../actors/NodeRegistry.js"
import type { NodeId } from "../domain/NodeId.js"
import { normalizeBaseUrl } from "../domain/NodeId.js"
import { nodeIdOf } from "../runtime/Sollol.js"
import type { UpstreamFactory } from "../runtime/Sollol.js"

/** A node as the config asks for it: id, canonical URL, and slots (`routing.defaultSlots` when unset). */
export interface WantedNode {
  readonly nodeId: NodeId
  readonly url: string
  readonly slots: number | undefined
}

/** What the registry holds now (a `NodeView`'s fields that a config can set). */
export interface RegisteredNode {
  readonly nodeId: NodeId
  readonly url: string
  readonly slots: number
}

export type Step =
  /** Registers a node; `after`, a node at the same URL under another id, is removed first (a rename). */
  | { readonly _tag: "Add"; readonly node: WantedNode; readonly after?: NodeId }
  /** Drains and removes a node the config no longer lists. */
  | { readonly _tag: "Remove"; readonly nodeId: NodeId }
  /** The registry cannot update a node in place: drained and removed, then added with the new settings. */
  | { readonly _tag: "Replace"; readonly node: WantedNode; readonly change: string }

export interface NodePlan {
  readonly steps: ReadonlyArray<Step>
  readonly unchanged: ReadonlyArray<NodeId>
  /** Registered but never listed in the config (added through the admin API): left alone. */
  readonly kept: ReadonlyArray<NodeId>
}

/** The config's nodes (their ids are unique: see decodeAppConfig). */
export const wantedNodes = (config: AppConfig): ReadonlyArray<WantedNode> =>
  config.nodes.map((node) => ({ nodeId: nodeIdOf(node), url: normalizeBaseUrl(node.url), slots: node.slots }))

/**
 * 1. A wanted node registered under its id is unchanged when URL and slots match, else replaced.
 * 2. A wanted node not registered is added; a registered node at its URL that the config does not list under
 *    its own id is removed first, so one machine is never registered (and its slots counted) twice.
 * 3. A registered node that the config no longer lists is removed if the config had put it there (`managed`),
 *    else kept: the admin API added it, and a reload does not undo the operator's run-time changes.
 */
export const planNodes = (
  managed: ReadonlySet<NodeId>,
  registered: ReadonlyArray<RegisteredNode>,
  wanted: ReadonlyArray<WantedNode>,
  defaultSlots: number
): NodePlan => {
  const wantedIds = new Set(wanted.map((w) => w.nodeId))
  const claimed = new Set<NodeId>()
  const steps: Array<Step> = []
  const unchanged: Array<NodeId> = []
  for (const node of wanted) {
    const current = registered.find((r) => r.nodeId === node.nodeId)
    if (current !== undefined) {
      const slots = node.slots ?? defaultSlots
      const change = [
        current.url !== node.url ? `url ${current.url} -> ${node.url}` : undefined,
        current.slots !== slots ? `slots ${current.slots} -> ${slots}` : undefined
      ].filter((c) => c !== undefined).join(", ")
      if (change === "") unchanged.push(node.nodeId)
      else steps.push({ _tag: "Replace", node, change })
      continue
    }
    const sameUrl = registered.find((r) => r.url === node.url && !wantedIds.has(r.nodeId) && !claimed.has(r.nodeId))
    if (sameUrl !== undefined) claimed.add(sameUrl.nodeId)
    steps.push(sameUrl === undefined ? { _tag: "Add", node } : { _tag: "Add", node, after: sameUrl.nodeId })
  }
  const kept: Array<NodeId> = []
  for (const r of registered) {
    if (wantedIds.has(r.nodeId) || claimed.has(r.nodeId)) continue
    if (managed.has(r.nodeId)) steps.push({ _tag: "Remove", nodeId: r.nodeId })
    else kept.push(r.nodeId)
  }
  return { steps, unchanged, kept }
}

export interface RestartNeeded {
  /** Dotted path of the setting, as in validation messages: `port`, `health.probeIntervalMs`. */
  readonly path: string
  readonly running: unknown
  readonly wanted: unknown
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Every setting but `nodes` whose value differs, one entry per leaf (arrays are compared whole). */
export const restartNeeded = (running: AppConfig, wanted: AppConfig): ReadonlyArray<RestartNeeded> => {
  const out: Array<RestartNeeded> = []
  const walk = (a: unknown, b: unknown, path: ReadonlyArray<string>): void => {
    if (isRecord(a) && isRecord(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (path.length === 0 && key === "nodes") continue
        walk(a[key], b[key], [...path, key])
      }
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push({ path: path.join("."), running: a, wanted: b })
    }
  }
  walk(running, wanted, [])
  return out
}

const show = (v: unknown) => v === undefined ? "unset" : JSON.stringify(v)

export const restartLine = (r: RestartNeeded): string =>
  `config reload: ${r.path}: ${show(r.running)} -> ${show(r.wanted)} needs a restart; still using ${show(r.running)}`

export interface Applied {
  readonly added: ReadonlyArray<NodeId>
  readonly removed: ReadonlyArray<NodeId>
  readonly changed: ReadonlyArray<{ readonly nodeId: NodeId; readonly change: string }>
  readonly unchanged: number
  readonly kept: ReadonlyArray<NodeId>
  readonly failed: ReadonlyArray<{ readonly nodeId: NodeId; readonly message: string }>
}

/** `config reloaded: +gpu-3, -gpu-1, ~gpu-2 (slots 4 -> 8), unchanged 2; kept gpu-9 (…)`. */
export const summaryLine = (a: Applied): string => {
  const parts = [
    ...a.added.map((id) => `+${id}`),
    ...a.removed.map((id) => `-${id}`),
    ...a.changed.map((c) => `~${c.nodeId} (${c.change})`),
    `unchanged ${a.unchanged}`
  ]
  const kept = a.kept.length === 0 ? "" : `; kept ${a.kept.join(", ")} (added through the admin API, not in the config)`
  const failed = a.failed.length === 0 ? "" :
    `; not added: ${a.failed.map((f) => `${f.nodeId} (${f.message})`).join(", ")}`
  return `config reloaded: ${parts.join(", ")}${kept}${failed}`
}

export type ReloadResult =
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "Applied"; readonly applied: Applied; readonly restart: ReadonlyArray<RestartNeeded> }

export interface ReloadOptions {
  /** Prefix of every line: `sollol <command>: …`. */
  readonly command: string
  /** Reads and validates the sources again (flags > env > file), as at startup. */
  readonly load: () => Either.Either<AppConfig, string>
  /** The config the gateway was started with: the reference for settings that need a restart. */
  readonly running: AppConfig
  readonly registry: NodeRegistryService
  /** Transport for added nodes; the gateway's (its timeouts are fixed at startup). */
  readonly upstreamFactory: UpstreamFactory
}

/**
 * The reload, ready to run once per SIGHUP: one at a time; logs one line per setting that needs a restart (stderr)
 * and the summary (stdout), or the one line of an invalid config (stderr), and never fails.
 */
export const makeReload = (options: ReloadOptions): Effect.Effect<Effect.Effect<ReloadResult>> =>
  Effect.gen(function*() {
    const { registry } = options
    const line = (text: string) => `sollol ${options.command}: ${text}`
    const managed = yield* Ref.make<ReadonlySet<NodeId>>(new Set(wantedNodes(options.running).map((n) => n.nodeId)))
    const oneAtATime = yield* Effect.makeSemaphore(1)
    // NotFound only: someone (the admin API) removed it meanwhile, which is what was asked
    const remove = (nodeId: NodeId) =>
      registry.remove(nodeId).pipe(Effect.catchTag("NodeRegistryError", () => Effect.void))
    const add = (node: WantedNode) =>
      Effect.either(registry.add({
        nodeId: node.nodeId,
        url: node.url,
        ...(node.slots !== undefined ? { slots: node.slots } : {}),
        makeUpstream: options.upstreamFactory(node.nodeId, node.url)
      }))

    type Done =
      | { readonly _tag: "added" | "removed"; readonly nodeId: NodeId }
      | { readonly _tag: "changed"; readonly nodeId: NodeId; readonly change: string }
      | { readonly _tag: "failed"; readonly nodeId: NodeId; readonly message: string }
    const addOrFail = (node: WantedNode, done: Done): Effect.Effect<Done> =>
      Effect.map(add(node), Either.match({
        onLeft: (e): Done => ({ _tag: "failed", nodeId: node.nodeId, message: e.message }),
        onRight: () => done
      }))
    const run = (step: Step): Effect.Effect<ReadonlyArray<Done>> => {
      switch (step._tag) {
        case "Remove":
          return Effect.as(remove(step.nodeId), [{ _tag: "removed", nodeId: step.nodeId }])
        case "Add": {
          const added = addOrFail(step.node, { _tag: "added", nodeId: step.node.nodeId })
          if (step.after === undefined) return Effect.map(added, (d) => [d])
          const renamed: Done = { _tag: "removed", nodeId: step.after }
          return Effect.map(Effect.zipRight(remove(step.after), added), (d) => [renamed, d])
        }
        case "Replace": {
          const changed: Done = { _tag: "changed", nodeId: step.node.nodeId, change: step.change }
          return Effect.map(Effect.zipRight(remove(step.node.nodeId), addOrFail(step.node, changed)), (d) => [d])
        }
      }
    }

    const apply = (next: AppConfig) =>
      Effect.gen(function*() {
        const wanted = wantedNodes(next)
        const plan = planNodes(yield* managed.get, yield* registry.list, wanted, options.running.routing.defaultSlots)
        const done = (yield* Effect.forEach(plan.steps, run, { concurrency: "unbounded" })).flat()
        const ids = (tag: Done["_tag"]) => done.filter((d) => d._tag === tag).map((d) => d.nodeId)
        const failed = done.flatMap((d) => d._tag === "failed" ? [{ nodeId: d.nodeId, message: d.message }] : [])
        const notAdded = new Set(failed.map((f) => f.nodeId))
        yield* Ref.set(managed, new Set(wanted.map((w) => w.nodeId).filter((id) => !notAdded.has(id))))
        const applied: Applied = {
          added: ids("added"),
          removed: ids("removed"),
          changed: done.flatMap((d) => d._tag === "changed" ? [{ nodeId: d.nodeId, change: d.change }] : []),
          unchanged: plan.unchanged.length,
          kept: plan.kept,
          failed
        }
        return applied
      })

    return oneAtATime.withPermits(1)(Effect.gen(function*() {
      const next = options.load()
      if (Either.isLeft(next)) {
        yield* Console.error(line(`config reload failed, keeping the current config: ${next.left}`))
        return { _tag: "Invalid", message: next.left } as const
      }
      const restart = restartNeeded(options.running, next.right)
      for (const r of restart) yield* Console.error(line(restartLine(r)))
      const applied = yield* apply(next.right)
      yield* Console.log(line(summaryLine(applied)))
      return { _tag: "Applied", applied, restart } as const
    }))
  })
