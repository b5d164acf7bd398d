/** `sollol serve`: the gateway over configured nodes, until SIGINT/SIGTERM. */
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Either, Option } from "effect"
import type { Scope } from "effect"
import type { AppConfig } from "../AppConfig.js"
import { isLoopbackHost } from "../http/allowedHosts.js"
import { makeGateway } from "../http/makeGateway.js"
import { builtinStrategies } from "../strategies/catalog.js"
import { listenFailure } from "./listen.js"
import { loadConfig } from "./loadConfig.js"
import { argvMessage, configStop, help, reportStop, usageStop, wantsHelp } from "./usage.js"
import type { Stop } from "./usage.js"

const serveOptions = {
  host: { type: "string" },
  port: { type: "string" },
  node: { type: "string", multiple: true },
  strategy: { type: "string" },
  config: { type: "string" }
} as const

export const serveUsage = `usage: sollol serve [--host H] [--port P] [--node URL]... [--strategy NAME] [--config FILE]
  --host      interface to listen on (default 127.0.0.1)
  --port      port to listen on (default 8000; 0 = any free port)
  --node      an Ollama node's base URL (repeatable, or comma-separated); with no node configured anywhere,
              http://127.0.0.1:11434
  --strategy  ${Object.keys(builtinStrategies).join(" | ")} (default sollol)
  --config    a config file, YAML or JSON (every setting; see the README)
  -h, --help  print this help
environment (flags > environment > config file > defaults):
  SOLLOL_HOST, SOLLOL_PORT, SOLLOL_NODES=url,url, SOLLOL_STRATEGY, SOLLOL_CONFIG  as the flags above
  SOLLOL_DB         the SQLite file for API keys and learned stats (default ./sollol.db; :memory: keeps nothing)
  SOLLOL_LOG_LEVEL  debug | info | warn | error | none (default info)
  SOLLOL_AUTH       auto | required | off (default auto: on once a key exists)`

/** The loud startup warning for a gateway reachable beyond this machine with auth off; `undefined` when safe. */
export const authWarning = (host: string, authEnabled: boolean): string | undefined =>
  isLoopbackHost(host) || authEnabled ? undefined : (
    `\n!!! WARNING: listening on ${host} with authentication OFF: anyone who can reach this port can use\n` +
    `!!! every node. Create a key (sollol keys create --name admin --role admin) or set auth.mode: required.\n`
  )

/** Starts the gateway and runs it until interrupted; a failed start is one line saying what failed. */
export const runGateway = (
  config: AppConfig,
  banner: (url: string) => string
): Effect.Effect<never, string, Scope.Scope> =>
  Effect.gen(function*() {
    const gateway = yield* makeGateway(config).pipe(
      Effect.mapError((error) => listenFailure(error, config.host, config.port) ?? error.message)
    )
    console.log(banner(gateway.url))
    const warning = authWarning(config.host, gateway.authEnabled)
    if (warning !== undefined) console.warn(warning)
    return yield* Effect.never
  })

/**
 * Runs a long-lived command until SIGINT/SIGTERM (exit 0). A failed start closes the scope first (so whatever
 * had started stops), then prints `sollol <command>: <message>` and exits 1.
 */
export const runUntilSignal = (command: string, program: Effect.Effect<never, string, Scope.Scope>): void =>
  NodeRuntime.runMain(
    Effect.scoped(program).pipe(Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Option.match(Cause.failureOption(cause), {
        onNone: () => Cause.pretty(cause),
        onSome: (message) => `sollol ${command}: ${message}`
      }))
    )),
    { disableErrorReporting: true }
  )

/** The validated config to serve, or why not: help, a bad command line, or a setting naming its field. */
export const parseServeArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Either.Either<AppConfig, Stop> => {
  if (wantsHelp(argv, serveOptions)) return Either.left(help)
  let values
  try {
    values = parseArgs({ args: [...argv], options: serveOptions, strict: true, allowPositionals: false }).values
  } catch (error) {
    return Either.left(usageStop(argvMessage(error)))
  }
  return Either.mapLeft(loadConfig(values, env), configStop)
}

/** Returns the exit code when it stops before starting; once the gateway starts, the runtime exits the process. */
export const serveMain = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): number | undefined => {
  const parsed = parseServeArgs(argv, env)
  if (Either.isLeft(parsed)) return reportStop("serve", serveUsage, parsed.left)
  const config = parsed.right
  runUntilSignal("serve", runGateway(config, (url) =>
    `SOLLOL gateway listening on ${url} (strategy ${config.strategy}; nodes: ${
      config.nodes.map((n) => n.name ?? n.url).join(", ")
    })`))
  return undefined
}
