/** `sollol demo`: the gateway over a simulated hetero3 cluster (fast GPU, mid GPU, CPU), in one process. */
import { parseArgs } from "node:util"
import { Effect, Either } from "effect"
import type { Scope } from "effect"
import type { AppConfig } from "../AppConfig.js"
import { startScenario } from "../sim/scenarios.js"
import { builtinStrategies } from "../strategies/catalog.js"
import { listenFailure } from "./listen.js"
import { fromFlags, validateConfig } from "./loadConfig.js"
import { runGateway, runUntilSignal } from "./serve.js"
import { argvMessage, configStop, decimal, help, reportStop, usageStop, wantsHelp } from "./usage.js"
import type { Stop } from "./usage.js"

const demoOptions = {
  port: { type: "string" },
  host: { type: "string" },
  strategy: { type: "string" },
  "time-scale": { type: "string" }
} as const

export const demoUsage = `usage: sollol demo [--port P] [--host H] [--strategy NAME] [--time-scale S]
  --port        gateway port (default 8000; 0 = any free port)
  --host        gateway interface (default 127.0.0.1); the simulated nodes listen on 127.0.0.1, on free ports
  --strategy    ${Object.keys(builtinStrategies).join(" | ")} (default sollol)
  --time-scale  divides every simulated duration (default 1)
  -h, --help    print this help
The demo reads no SOLLOL_* variable and stores nothing (its database is in memory).`

export interface DemoArgs {
  /** The gateway's settings, validated; the nodes are added once they listen. */
  readonly config: AppConfig
  readonly timeScale: number
}

/** The validated demo settings, or why not; nothing has started yet either way. */
export const parseDemoArgs = (argv: ReadonlyArray<string>): Either.Either<DemoArgs, Stop> => {
  if (wantsHelp(argv, demoOptions)) return Either.left(help)
  let values
  try {
    values = parseArgs({ args: [...argv], options: demoOptions, strict: true, allowPositionals: false }).values
  } catch (error) {
    return Either.left(usageStop(argvMessage(error)))
  }
  const timeScale = decimal(values["time-scale"] ?? "1")
  const badTimeScale = Number.isFinite(timeScale) && timeScale > 0
    ? undefined
    : `time-scale: must be a positive number, got '${values["time-scale"]}'`
  const config = validateConfig({ ...fromFlags(values), database: ":memory:" })
  const problems = [Either.isLeft(config) ? config.left : undefined, badTimeScale].filter((p) => p !== undefined)
  if (problems.length > 0 || Either.isLeft(config)) return Either.left(configStop(problems.join("; ")))
  return Either.right({ config: config.right, timeScale })
}

/** Starts the simulated nodes, then the gateway over them; a failed start stops the nodes with the scope. */
export const runDemo = (args: DemoArgs): Effect.Effect<never, string, Scope.Scope> =>
  Effect.gen(function*() {
    const nodes = yield* startScenario("hetero3", { timeScale: args.timeScale, seed: 1 }).pipe(
      Effect.mapError((error) => `a simulated node: ${listenFailure(error, "127.0.0.1", 0) ?? error.message}`)
    )
    for (const n of nodes) console.log(`simulated node ${n.spec.name} (${n.spec.profile}) on ${n.url}`)
    const config: AppConfig = { ...args.config, nodes: nodes.map((n) => ({ url: n.url, name: n.spec.name })) }
    return yield* runGateway(config, (url) =>
      [
        `SOLLOL demo gateway listening on ${url}`,
        `  try: curl ${url}/api/tags`,
        `       curl ${url}/api/chat -d '{"model":"llama3.2:3b","messages":[{"role":"user","content":"Hello!"}]}'`,
        `  dashboard: ${url}/dashboard   metrics: ${url}/metrics   decisions: ${url}/api/sollol/decisions`
      ].join("\n"))
  })

/** Returns the exit code when it stops before starting; once the demo starts, the runtime exits the process. */
export const demoMain = (argv: ReadonlyArray<string>): number | undefined => {
  const parsed = parseDemoArgs(argv)
  if (Either.isLeft(parsed)) return reportStop("demo", demoUsage, parsed.left)
  runUntilSignal("demo", runDemo(parsed.right))
  return undefined
}
