/** `sollol sim-node`: one simulated Ollama node as an HTTP server, until SIGINT/SIGTERM. */
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { parseFault } from "../sim/faults.js"
import type { Fault } from "../sim/faults.js"
import { serveSimNode } from "../sim/httpServer.js"
import { normalizeModel } from "../domain/Model.js"
import { isProfileName, profileNames, profiles } from "../sim/profiles.js"
import type { ProfileName } from "../sim/profiles.js"
import { makeSimNode } from "../sim/SimNode.js"
import { listenFailure } from "./listen.js"
import { argvMessage, decimal, help, reportStop, usageStop, wantsHelp } from "./usage.js"

export const simNodeUsage = `usage: sollol sim-node --profile NAME [--port P] [--host H] [--model M]... [--time-scale S] [--seed N] [--fault MODE[:ARG]]
  --profile     ${profileNames.join(" | ")}
  --port        port to listen on (default 11434; 0 = any free port)
  --host        interface (default 127.0.0.1)
  --model       an installed model (repeatable; default: all of the profile's)
  --time-scale  divides every simulated duration (default 1)
  --seed        seed of the node's generator (default 1)
  --fault       none | refuse | error500 | hang | busy | slow:FACTOR | truncate:CHUNKS | crash:TOKENS | flap:PERIOD_MS
  -h, --help    print this help`

const simNodeOptions = {
  port: { type: "string" },
  profile: { type: "string" },
  model: { type: "string", multiple: true },
  "time-scale": { type: "string" },
  seed: { type: "string" },
  host: { type: "string" },
  fault: { type: "string" }
} as const

interface SimNodeArgs {
  readonly profile: ProfileName
  readonly port: number
  readonly host: string
  readonly models: ReadonlyArray<string> | undefined
  readonly timeScale: number
  readonly seed: number
  readonly fault: Fault
}

/** Parses the flags; a string is the error to print. */
export const parseSimNodeArgs = (argv: ReadonlyArray<string>): SimNodeArgs | string => {
  let values
  try {
    values = parseArgs({ args: [...argv], options: simNodeOptions, strict: true, allowPositionals: false }).values
  } catch (e) {
    return argvMessage(e)
  }
  const profile = values.profile
  if (profile === undefined) return "--profile is required"
  if (!isProfileName(profile)) return `unknown profile ${JSON.stringify(profile)} (expected ${profileNames.join(", ")})`
  const port = decimal(values.port ?? "11434")
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `bad --port ${JSON.stringify(values.port)}`
  const timeScale = decimal(values["time-scale"] ?? "1")
  if (!Number.isFinite(timeScale) || timeScale <= 0) return `bad --time-scale ${JSON.stringify(values["time-scale"])}`
  const seed = decimal(values.seed ?? "1")
  if (!Number.isInteger(seed)) return `bad --seed ${JSON.stringify(values.seed)}`
  const fault = values.fault === undefined ? { mode: "none" as const } : parseFault(values.fault)
  if (typeof fault === "string") return fault
  const catalogue = profiles[profile].models
  const unknown = (values.model ?? []).filter((m) => catalogue[normalizeModel(m)] === undefined)
  if (unknown.length > 0) {
    return `--model ${unknown.join(", ")}: not in the ${profile} profile (it has ${Object.keys(catalogue).join(", ")})`
  }
  return { profile, port, host: values.host ?? "127.0.0.1", models: values.model, timeScale, seed, fault }
}

const untilSignal = Effect.async<string>((resume) => {
  const on = (signal: string) => () => {
    process.off("SIGINT", onInt)
    process.off("SIGTERM", onTerm)
    resume(Effect.succeed(signal))
  }
  const onInt = on("SIGINT")
  const onTerm = on("SIGTERM")
  process.once("SIGINT", onInt)
  process.once("SIGTERM", onTerm)
  return Effect.sync(() => {
    process.off("SIGINT", onInt)
    process.off("SIGTERM", onTerm)
  })
})

/**
 * Runs the node until a signal. `--help` prints the usage (exit code 0), bad flags a message and the usage (2),
 * a port it cannot listen on one line (1).
 */
export const simNodeMain = async (argv: ReadonlyArray<string>): Promise<void> => {
  if (wantsHelp(argv, simNodeOptions)) {
    process.exitCode = reportStop("sim-node", simNodeUsage, help)
    return
  }
  const args = parseSimNodeArgs(argv)
  if (typeof args === "string") {
    process.exitCode = reportStop("sim-node", simNodeUsage, usageStop(args))
    return
  }
  const failed = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const node = yield* makeSimNode({
      name: `sim-${args.profile}`,
      profile: args.profile,
      seed: args.seed,
      timeScale: args.timeScale,
      fault: args.fault,
      ...(args.models !== undefined ? { models: args.models } : {})
    })
    const { url } = yield* serveSimNode(node, { host: args.host, port: args.port })
    console.log(`sim-node ${args.profile} listening on ${url}`)
    yield* untilSignal
  })).pipe(
    Effect.as(undefined),
    Effect.catchAll((error) => Effect.succeed(listenFailure(error, args.host, args.port) ?? error.message))
  ))
  if (failed !== undefined) {
    console.error(`sollol sim-node: ${failed}`)
    process.exitCode = 1
  }
}
