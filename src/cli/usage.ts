/**
 * What every subcommand does the same way: `--help`/`-h` prints its usage to stdout (exit 0); a bad command line
 * prints `sollol <cmd>: <message>`, a blank line and the usage to stderr (exit 2); a bad config prints
 * `sollol <cmd>: <field>: <problem>` (exit 2), before anything starts.
 */
import { parseArgs } from "node:util"
import type { ParseArgsConfig } from "node:util"

type Options = NonNullable<ParseArgsConfig["options"]>

/** How a command line ends before the command runs. */
export type Stop =
  | { readonly _tag: "Help" }
  /** The command line itself is wrong: the usage follows the message. */
  | { readonly _tag: "Usage"; readonly message: string }
  /** The settings are wrong: the message names the field. */
  | { readonly _tag: "Config"; readonly message: string }

export const help: Stop = { _tag: "Help" }
export const usageStop = (message: string): Stop => ({ _tag: "Usage", message })
export const configStop = (message: string): Stop => ({ _tag: "Config", message })

/** Whether `--help` or `-h` is given as an option (not as another option's value, not after `--`). */
export const wantsHelp = (argv: ReadonlyArray<string>, options: Options = {}): boolean =>
  parseArgs({
    args: [...argv],
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: false,
    allowPositionals: true,
    tokens: true
  }).tokens.some((token) => token.kind === "option" && token.name === "help")

/**
 * A flag's number as written in decimal (`8000`, `-1`, `2.5`), else NaN: `Number` would also take `0x50`, `1e3`,
 * `0b1` or blanks, so a typo could bind port 80 or run 16 requests.
 */
export const decimal = (text: string): number => /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN

/** parseArgs' complaint (it throws a TypeError naming the option). */
export const argvMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** The text for a usage error: message, blank line, usage. */
export const usageErrorText = (command: string, message: string, usage: string): string =>
  `sollol ${command}: ${message}\n\n${usage}`

export interface StopIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const consoleIo: StopIo = { out: (text) => console.log(text), err: (text) => console.error(text) }

/** Prints what `stop` calls for and returns the exit code. */
export const reportStop = (command: string, usage: string, stop: Stop, io: StopIo = consoleIo): number => {
  switch (stop._tag) {
    case "Help":
      io.out(usage)
      return 0
    case "Usage":
      io.err(usageErrorText(command, stop.message, usage))
      return 2
    case "Config":
      io.err(`sollol ${command}: ${stop.message}`)
      return 2
  }
}
