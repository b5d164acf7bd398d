/** `sollol serve` and `sollol demo`: the gateway over configured nodes, or over a simulated hetero3 cluster. */
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Either, Layer } from "effect"
import type { AppConfig } from "../AppConfig.js"
import { makeAppConfig } from "../AppConfig.js"
import { makeGateway } from "../http/makeGateway.js"
import { startScenario } from "../sim/scenarios.js"
import { loadConfig } from "./loadConfig.js"

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || host.startsWith("127.") || host.startsWith("::ffff:127.")

/** The loud startup warning for a gateway reachable beyond this machine with auth off; `undefined` when safe. */
export const authWarning = (host: string, authEnabled: boolean): string | undefined =>
  isLoopback(host) || authEnabled ? undefined : (
    `\n!!! WARNING: listening on ${host} with authentication OFF: anyone who can reach this port can use\n` +
    `!!! every node. Create a key (sollol keys create --name admin --role admin) or set auth.mode: required.\n`
  )

/** Runs the gateway until SIGINT/SIGTERM, then shuts down gracefully. */
const runGateway = (config: AppConfig, banner: (url: string) => string) =>
  Effect.gen(function*() {
    const gateway = yield* makeGateway(config)
    console.log(banner(gateway.url))
    const warning = authWarning(config.host, gateway.authEnabled)
    if (warning !== undefined) console.warn(warning)
    return yield* Effect.never
  })

export const serveMain = (argv: ReadonlyArray<string>): void => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      node: { type: "string", multiple: true },
      strategy: { type: "string" },
      config: { type: "string" }
    },
    strict: true
  })
  const config = loadConfig(values, process.env)
  if (Either.isLeft(config)) {
    console.error(`sollol serve: ${config.left}`)
    process.exit(2)
  }
  NodeRuntime.runMain(
    Effect.scoped(runGateway(config.right, (url) =>
      `SOLLOL gateway listening on ${url} (strategy ${config.right.strategy}; nodes: ${
        config.right.nodes.map((n) => n.name ?? n.url).join(", ")
      })`)),
    { disableErrorReporting: false }
  )
}

export const demoMain = (argv: ReadonlyArray<string>): void => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: "string", default: "8000" },
      host: { type: "string", default: "127.0.0.1" },
      strategy: { type: "string", default: "sollol" },
      "time-scale": { type: "string", default: "1" }
    },
    strict: true
  })
  const program = Effect.gen(function*() {
    const nodes = yield* startScenario("hetero3", { timeScale: Number(values["time-scale"]), seed: 1 })
    for (const n of nodes) console.log(`simulated node ${n.spec.name} (${n.spec.profile}) on ${n.url}`)
    const config = makeAppConfig({
      host: values.host,
      port: Number(values.port),
      strategy: values.strategy,
      database: ":memory:",
      nodes: nodes.map((n) => ({ url: n.url, name: n.spec.name }))
    })
    return yield* runGateway(config, (url) =>
      [
        `SOLLOL demo gateway listening on ${url}`,
        `  try: curl ${url}/api/tags`,
        `       curl ${url}/api/chat -d '{"model":"llama3.2:3b","messages":[{"role":"user","content":"Hello!"}]}'`,
        `  dashboard: ${url}/dashboard   metrics: ${url}/metrics   decisions: ${url}/api/sollol/decisions`
      ].join("\n"))
  })
  NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(Layer.empty)))
}
