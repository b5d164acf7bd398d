/**
 * Structured JSON logs: one line per finished request (from the decision record only, so no key material can
 * leak) and one per node membership or health change, to stderr at the configured level. Effect's own log calls
 * are rendered the same way by `jsonLogger`.
 */
import { Effect, FiberRef, HashMap, HashSet, Layer, Logger, LogLevel, Stream } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { RegistryEvent } from "../actors/NodeRegistry.js"
import { DecisionLog } from "../runtime/DecisionLog.js"
import type { DecisionRecord } from "../runtime/DecisionLog.js"

export type LogLevelName = "debug" | "info" | "warn" | "error" | "none"
type Level = Exclude<LogLevelName, "none">

const rank: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40, none: 100 }

export interface LogOptions {
  /** Lowest level written. Default "info". */
  readonly level?: LogLevelName
  /** Where a line goes. Default: stderr. */
  readonly write?: (line: string) => void
}

const stderr = (line: string) => void process.stderr.write(line + "\n")

/** A request's level: errors from the gateway or upstream (5xx) are errors, other failures warnings. */
export const requestLevel = (d: DecisionRecord): Level =>
  d.outcome === "ok" ? "info" : d.outcome === "aborted" ? "info" : d.status >= 500 ? "error" : "warn"

export const requestLine = (d: DecisionRecord) => ({
  msg: "request",
  requestId: d.requestId,
  kind: d.kind,
  model: d.model,
  priority: d.priority,
  node: d.node,
  status: d.status,
  outcome: d.outcome,
  durationMs: Math.round(d.durationMs * 1000) / 1000,
  ttftMs: d.ttftMs,
  queueWaitMs: d.queueWaitMs,
  attempts: d.attempts,
  hedged: d.hedged,
  strategy: d.strategy,
  error: d.error
})

const nodeLine = (e: RegistryEvent): readonly [Level, Record<string, unknown>] =>
  e.type === "health.changed"
    ? [e.drained === true ? "info" : e.health === "excluded" ? "error" : e.health === "degraded" ? "warn" : "info",
      { msg: "node health changed", node: e.nodeId, health: e.health, ...(e.drained === true ? { drained: true } : {}) }]
    : ["info", { msg: e.type === "node.added" ? "node added" : "node removed", node: e.nodeId }]

/** Writes lines at or above `level` as `{"time","level",…fields}`. */
export const makeWriter = (options: LogOptions, now: () => number) => {
  const min = rank[options.level ?? "info"]
  const write = options.write ?? stderr
  return (level: Level, fields: Record<string, unknown>) => {
    if (rank[level] < min) return
    write(JSON.stringify({ time: new Date(now()).toISOString(), level, ...fields }))
  }
}

/** Installs the request and node-change log lines for as long as the layer's scope lives. */
export const layer = (options: LogOptions = {}): Layer.Layer<never, never, DecisionLog | NodeRegistry> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    if (options.level === "none") return
    const clock = yield* Effect.clock
    const line = makeWriter(options, () => clock.unsafeCurrentTimeMillis())
    const stop = yield* (yield* DecisionLog).listen((d) => line(requestLevel(d), requestLine(d)))
    yield* Effect.addFinalizer(() => stop)
    const registry = yield* NodeRegistry
    const changes = yield* registry.subscribe
    for (const v of yield* registry.list) line("info", { msg: "node present", node: v.nodeId, health: v.health })
    yield* Stream.fromQueue(changes).pipe(
      Stream.runForEach((e) => Effect.sync(() => line(...nodeLine(e)))),
      Effect.forkScoped
    )
  }))

const levelOf = (l: LogLevel.LogLevel): Level =>
  l._tag === "Debug" || l._tag === "Trace" || l._tag === "All" ? "debug"
    : l._tag === "Info" ? "info"
    : l._tag === "Warning" ? "warn"
    : "error"

/** Effect's logger as JSON lines: message, annotations and spans as fields. */
export const jsonLogger = (options: LogOptions = {}) =>
  Logger.make(({ annotations, date, logLevel, message }) => {
    if (options.level === "none") return
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    makeWriter(options, () => date.getTime())(levelOf(logLevel), {
      msg: text,
      ...Object.fromEntries(HashMap.toEntries(annotations))
    })
  })

/** Replaces Effect's default logger with `jsonLogger` for the effect it wraps (and the fibers it forks). */
export const withJsonLogging = (options: LogOptions = {}) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    // the JSON logger alone: the CLI's runMain installs a pretty logger on stdout that replacing the default missed
    Effect.locally(FiberRef.currentLoggers, HashSet.make(jsonLogger(options))),
    Logger.withMinimumLogLevel(options.level === "debug" ? LogLevel.Debug : LogLevel.Info)
  )
