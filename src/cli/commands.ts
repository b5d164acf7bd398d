/** The `sollol` command line: one subcommand per job, each with its own `--help`. */
import { demoMain, demoUsage } from "./demo.js"
import { keysMain } from "./keys.js"
import { serveMain, serveUsage } from "./serve.js"
import { simNodeMain, simNodeUsage } from "./simNode.js"
import { simulateMain, simulateUsage } from "./simulate.js"

export const cliUsage = `usage: sollol <command> [options]

commands:
  serve [--host H] [--port P] [--node URL]... [--strategy NAME] [--config FILE]
                         the gateway in front of Ollama nodes (default node http://127.0.0.1:11434)
  demo [--port P] [--host H] [--strategy NAME] [--time-scale S]
                         the gateway plus three simulated nodes (fast GPU, mid GPU, CPU)
  sim-node --profile NAME [--port P] [--model M]... [--time-scale S] [--seed N] [--fault MODE]
                         one simulated Ollama node
  simulate --scenario NAME [--strategy a,b,...] [--workload W] [--requests N] [--rate R] [--seed S] [--slots N]
           [--config FILE] [--json]
                         compare strategies on a simulated cluster in virtual time
  keys create|list|revoke ...
                         API key administration
  help [COMMAND]         this help, or a command's (as \`sollol COMMAND --help\`)

strategies: round-robin, random, least-loaded, p2c-ewma, sollol (default)`

const usages: Readonly<Record<string, string>> = {
  serve: serveUsage,
  demo: demoUsage,
  "sim-node": simNodeUsage,
  simulate: simulateUsage
}

/**
 * Runs `argv` (without `node sollol`). Resolves to the exit code, or `undefined` when a long-running command
 * (serve, demo, sim-node) has taken charge of it.
 */
export const runCli = async (argv: ReadonlyArray<string>): Promise<number | undefined> => {
  const [command, ...rest] = argv
  switch (command) {
    case "serve":
      return serveMain(rest)
    case "demo":
      return demoMain(rest)
    case "sim-node":
      await simNodeMain(rest) // sets process.exitCode itself
      return undefined
    case "simulate":
      return simulateMain(rest)
    case "keys":
      return keysMain(rest)
    case undefined:
    case "--help":
    case "-h":
      console.log(cliUsage)
      return 0
    case "help": {
      const topic = rest[0]
      if (topic === "keys") return keysMain(["--help"])
      if (topic === "help" || topic === "--help" || topic === "-h") {
        console.log(cliUsage)
        return 0
      }
      if (topic !== undefined && usages[topic] === undefined) return unknownCommand(topic)
      console.log(topic === undefined ? cliUsage : usages[topic])
      return 0
    }
    default:
      return unknownCommand(command)
  }
}

const unknownCommand = (command: string): number => {
  console.error(`sollol: unknown command '${command}'\n\n${cliUsage}`)
  return 2
}
