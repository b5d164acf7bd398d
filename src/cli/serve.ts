/** `sollol serve`: the gateway over configured nodes, until SIGINT/SIGTERM; SIGHUP reloads the config's nodes. */
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Context, Effect, Either, Option } from "effect"
import type { Scope } from "effect"
import { NodeRegistry } from "../actors/NodeRegistry.js"
import type { AppConfig } from "../AppConfig.js"
import { isLoopbackHost } from "../http/allowedHosts.js"
import { makeGateway } from "../http/makeGateway.js"
import type { Gateway } from "../http/makeGateway.js"
import { builtinStrategies } from "../strategies/catalog.js"
import { handleHangups, Hangups, ignoreHangups, listenHangups } from "./hangup.js"
import { listenFailure } from "./listen.js"
import { loadConfig } from "./loadConfig.js"
import type { ServeFlags } from "./loadConfig.js"
import { makeReload } from "./reload.js"
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
  SOLLOL_AUTH       auto | required | off (default auto: on once a key exists)
signals:
  SIGHUP           re-read the config (same sources and checks as at startup) and apply its node list: new nodes
                   are added, nodes no longer listed are drained and removed, nodes added through the admin API are
                   kept; other settings need a restart; an invalid config is reported and the old one kept.
                   Ignored without a config file (--config or SOLLOL_CONFIG)
  SIGINT, SIGTERM  stop: finish in-flight requests (up to limits.shutdownGraceMs), then exit`

/** The loud startup warning for a gateway reachable beyond this machine with auth off; `undefined` when safe. */
export const authWarning = (host: string, authEnabled: boolean): string | undefined =>
  isLoopbackHost(host) || authEnabled ? undefined : (
    `\n!!! WARNING: listening on ${host} with authentication OFF: anyone who can reach this port can use\n` +
    `!!! every node. Create a key (sollol keys create --name admin --role admin) or set auth.mode: required.\n`
  )

/** What a running gateway does on SIGHUP: the effect to run per signal, built once the gateway is up. */
export type HangupHandler = (gateway: Gateway, command: string) => Effect.Effect<Effect.Effect<unknown>>

/**
 * Starts the gateway and runs it until interrupted; a failed start is one line saying what failed. Each SIGHUP
 * runs `onHangup`'s effect (default: a line saying it is ignored).
 */
export const runGateway = (
  config: AppConfig,
  banner: (url: string) => string,
  onHangup: HangupHandler = (_, command) => Effect.succeed(ignoreHangups(command))
): Effect.Effect<never, string, Scope.Scope> =>
  Effect.gen(function*() {
    const gateway = yield* makeGateway(config).pipe(
      Effect.mapError((error) => listenFailure(error, config.host, config.port) ?? error.message)
    )
    console.log(banner(gateway.url))
    const warning = authWarning(config.host, gateway.authEnabled)
    if (warning !== undefined) console.warn(warning)
    yield* handleHangups((command) => onHangup(gateway, command))
    return yield* Effect.never
  })

/** `serve`'s SIGHUP: reload from the same flags and environment, or say there is no file to reload. */
export const serveHangup = (config: AppConfig, flags: ServeFlags, env: NodeJS.ProcessEnv): HangupHandler =>
  (gateway, command) =>
    (flags.config ?? env.SOLLOL_CONFIG) === undefined
      ? Effect.succeed(Console.log(
        `sollol ${command}: SIGHUP ignored: no config file to reload (start with --config FILE or SOLLOL_CONFIG)`
      ))
      : makeReload({
        command,
        load: () => loadConfig(flags, env),
        running: config,
        registry: Context.get(gateway.context, NodeRegistry),
        upstreamFactory: gateway.upstreamFactory
      })

/**
 * Runs a long-lived command until SIGINT/SIGTERM (exit 0). A failed start closes the scope first (so whatever
 * had started stops), then prints `sollol <command>: <message>` and exits 1. SIGHUP never ends it: it is caught
 * from the start and handled by what `program` installs (`runGateway`'s `onHangup`).
 */
export const runUntilSignal = (command: string, program: Effect.Effect<never, string, Scope.Scope>): void =>
  NodeRuntime.runMain(
    Effect.scoped(Effect.flatMap(listenHangups(command), (hangups) =>
      Effect.provideService(program, Hangups, hangups))).pipe(Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Option.match(Cause.failureOption(cause), {
        onNone: () => Cause.pretty(cause),
        onSome: (message) => `sollol ${command}: ${message}`
      }))
    )),
    { disableErrorReporting: true }
  )

/** The command line's flags, or why not: help or a bad command line. */
const parseServeFlags = (argv: ReadonlyArray<string>): Either.Either<ServeFlags, Stop> => {
  if (wantsHelp(argv, serveOptions)) return Either.left(help)
  try {
    const parsed = parseArgs({ args: [...argv], options: serveOptions, strict: true, allowPositionals: false })
    return Either.right(parsed.values)
  } catch (error) {
    return Either.left(usageStop(argvMessage(error)))
  }
}

/** The validated config to serve, or why not: help, a bad command line, or a setting naming its field. */
export const parseServeArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Either.Either<AppConfig, Stop> =>
  Either.flatMap(parseServeFlags(argv), (flags) => Either.mapLeft(loadConfig(flags, env), configStop))

/** Returns the exit code when it stops before starting; once the gateway starts, the runtime exits the process. */
export const serveMain = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): number | undefined => {
  const flags = parseServeFlags(argv)
  if (Either.isLeft(flags)) return reportStop("serve", serveUsage, flags.left)
  const parsed = loadConfig(flags.right, env)
  if (Either.isLeft(parsed)) return reportStop("serve", serveUsage, configStop(parsed.left))
  const config = parsed.right
  runUntilSignal("serve", runGateway(config, (url) =>
    `SOLLOL gateway listening on ${url} (strategy ${config.strategy}; nodes: ${
      config.nodes.map((n) => n.name ?? n.url).join(", ")
    })`, serveHangup(config, flags.right, env)))
  return undefined
}
