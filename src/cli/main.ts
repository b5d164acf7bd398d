/** The `sollol` executable: V8 settings for a long-running process, then the command line. */
import { runCli } from "./commands.js"
import { tuneV8 } from "./v8Tuning.js"

tuneV8()

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code
  },
  (error: unknown) => {
    console.error(`sollol: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
