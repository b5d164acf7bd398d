/**
 * One simulated run: the real runtime (Sollol.layer + workflow.handle) over a scenario's in-process sim nodes, in
 * virtual time. Each run builds fresh nodes and a fresh runtime from the same seed, so strategies are comparable.
 */
import { Effect, Exit, Fiber, Layer, Logger, LogLevel, Random } from "effect"
import { makeAppConfig } from "../AppConfig.js"
import type { AppConfigInput } from "../AppConfig.js"
import { AdmissionTag } from "../runtime/Admission.js"
import type { WaitStats } from "../runtime/Admission.js"
import { DecisionLog } from "../runtime/DecisionLog.js"
import { makeIntent } from "../runtime/intent.js"
import * as Sollol from "../runtime/Sollol.js"
import { handle } from "../runtime/workflow.js"
import { simUpstream } from "../sim/inProcess.js"
import { makeScenarioNodes } from "../sim/scenarios.js"
import type { ScenarioName } from "../sim/scenarios.js"
import type { SimNode } from "../sim/SimNode.js"
import { recordingSink } from "./recorder.js"
import type { RequestOutcome } from "./recorder.js"
import { runVirtual } from "./virtualTime.js"
import type { Arrival } from "./workloads.js"

export interface RunOptions {
  readonly scenario: ScenarioName
  readonly strategy: string
  readonly arrivals: ReadonlyArray<Arrival>
  readonly seed: number
  /** Extra gateway config (queue, routing …) merged over the simulation's. */
  readonly config?: Partial<AppConfigInput>
  /** Parallel slots to configure per node name (as `nodes[].slots`); nodes not listed learn theirs. Default none. */
  readonly slots?: Readonly<Record<string, number>>
}

export interface RunResult {
  readonly strategy: string
  readonly outcomes: ReadonlyArray<RequestOutcome>
  /** Virtual ms from the first arrival to the last completion. */
  readonly spanMs: number
  readonly waits: ReadonlyArray<WaitStats>
  readonly agingIntervalMs: number
  /** Virtual timers fired: the simulated work behind the run. */
  readonly events: number
}

/** Virtual time starts here, so "time 0" never looks special to any component. */
const START_MS = 1_000_000

const program = (options: RunOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const nodes = yield* makeScenarioNodes(options.scenario, { seed: options.seed, timeScale: 1 })
    const byId = new Map<string, SimNode>(nodes.map(({ node, spec }) => [spec.name, node]))
    const config = makeAppConfig({
      ...options.config,
      nodes: nodes.map(({ spec }) => {
        const slots = options.slots?.[spec.name]
        return { url: `http://${spec.name}.sim:11434`, name: spec.name, ...(slots !== undefined ? { slots } : {}) }
      }),
      strategy: options.strategy,
      database: ":memory:",
      logLevel: "none"
    })
    const factory: Sollol.UpstreamFactory = (nodeId, url) => {
      const node = byId.get(nodeId)
      return node !== undefined ? Effect.succeed(simUpstream(node, nodeId)) : Effect.dieMessage(`no sim node for ${url}`)
    }
    const runtime = yield* Layer.build(Sollol.layer(config, { upstreamFactory: factory })).pipe(Effect.orDie)
    const log = yield* Effect.provide(DecisionLog, runtime)
    const outcomes = options.arrivals.map((a): RequestOutcome => ({
      index: a.index,
      priority: a.priority,
      model: String(a.body.model),
      arrivedAt: 0,
      status: 0,
      node: undefined,
      firstChunkAt: undefined,
      endedAt: undefined,
      ok: false,
      coldLoad: undefined,
      queueWaitMs: 0
    }))
    yield* Effect.acquireRelease(
      log.listen((d) => {
        const o = outcomes[Number(d.requestId.slice(1))]
        if (o !== undefined) o.queueWaitMs = d.queueWaitMs
      }),
      (stop) => stop
    )
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const t0 = now()
    const fibers: Array<Fiber.RuntimeFiber<void>> = []
    for (const arrival of options.arrivals) {
      const wait = t0 + arrival.atMs - now()
      if (wait > 0) yield* Effect.sleep(wait)
      const outcome = outcomes[arrival.index]!
      outcome.arrivedAt = now()
      const intent = makeIntent({
        kind: arrival.kind,
        body: arrival.body,
        priority: arrival.priority,
        arrivedAt: outcome.arrivedAt,
        path: arrival.path,
        headers: { "content-type": "application/json" },
        requestId: `r${arrival.index}`
      })
      fibers.push(yield* Effect.fork(Effect.asVoid(handle(intent, recordingSink(outcome, now))).pipe(Effect.provide(runtime))))
    }
    yield* Fiber.joinAll(fibers)
    const waits = yield* Effect.flatMap(Effect.provide(AdmissionTag, runtime), (a) => a.stats)
    return { outcomes, spanMs: now() - t0, waits, agingIntervalMs: config.queue.agingIntervalMs }
  })).pipe(
    Effect.withRandom(Random.make(options.seed)),
    Logger.withMinimumLogLevel(LogLevel.None)
  )

/** Runs one strategy over the arrivals in virtual time; a defect in the runtime is thrown. */
export const runStrategy = (options: RunOptions): RunResult => {
  const run = runVirtual(program(options), START_MS)
  if (Exit.isFailure(run.exit)) throw new Error(`simulation of ${options.strategy} failed: ${String(run.exit.cause)}`)
  return { strategy: options.strategy, ...run.exit.value, events: run.timersFired }
}

