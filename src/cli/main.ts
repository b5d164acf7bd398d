/** The `sollol` command: one entry, one subcommand per job. */
import { keysMain } from "./keys.js"
import { demoMain, serveMain } from "./serve.js"
import { simNodeMain } from "./simNode.js"
import { simulateMain } from "./simulate.js"
import { tuneV8 } from "./v8Tuning.js"

const USAGE = `usage: sollol <command> [options]

commands:
  serve [--host H] [--port P] [--node URL]… [--strategy NAME] [--config FILE]
                         the gateway in front of Ollama nodes (default node http://127.0.0.1:11434)
  demo [--port 8000]     the gateway plus three simulated nodes (fast GPU, mid GPU, CPU)
  sim-node --port P --profile NAME [--model M]… [--time-scale S] [--seed N]
                         one simulated Ollama node
  simulate --scenario NAME --strategy a,b,… [--requests N] [--rate R] [--seed S] [--config FILE] [--json]
                         compare strategies on a simulated cluster in virtual time
  keys create|list|revoke …
                         API key administration

strategies: round-robin, random, least-loaded, p2c-ewma, sollol (default)`

const [command, ...rest] = process.argv.slice(2)
tuneV8()

const main = async (): Promise<void> => {
  switch (command) {
    case "serve":
      return serveMain(rest)
    case "demo":
      return demoMain(rest)
    case "sim-node":
      return simNodeMain(rest)
    case "simulate":
      process.exitCode = await simulateMain(rest)
      return
    case "keys":
      process.exitCode = await keysMain(rest)
      return
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE)
      return
    default:
      console.error(`sollol: unknown command '${command}'\n\n${USAGE}`)
      process.exitCode = 2
  }
}

main().catch((error: unknown) => {
  console.error(`sollol: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
