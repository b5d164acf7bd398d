/** Every command answers `--help`/`-h` with its usage (stdout, exit 0) and an unknown flag with message, blank line, usage (stderr, exit 2). */
import { afterEach, describe, expect, it, vi } from "vitest"
import { cliUsage, runCli } from "../../src/cli/commands.js"
import { demoUsage } from "../../src/cli/demo.js"
import { serveUsage } from "../../src/cli/serve.js"
import { simNodeUsage } from "../../src/cli/simNode.js"
import { simulateUsage } from "../../src/cli/simulate.js"

afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

/** Runs the command line in-process; sim-node reports through `process.exitCode`. */
const cli = async (argv: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line))
  vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line))
  process.exitCode = undefined
  const code = (await runCli(argv)) ?? process.exitCode
  vi.restoreAllMocks()
  return { code, out: out.join("\n"), err: err.join("\n") }
}

const usages: ReadonlyArray<[string, string]> = [
  ["serve", serveUsage],
  ["demo", demoUsage],
  ["sim-node", simNodeUsage],
  ["simulate", simulateUsage]
]

describe("sollol --help", () => {
  it("prints each command's usage to stdout and exits 0, for --help, -h and `sollol help <command>`", async () => {
    for (const [command, usage] of usages) {
      for (const argv of [[command, "--help"], [command, "-h"], [command, "--port", "1", "--help"], ["help", command]]) {
        expect(await cli(argv), argv.join(" ")).toEqual({ code: 0, out: usage, err: "" })
      }
    }
    for (const argv of [["keys", "--help"], ["keys", "-h"], ["keys", "create", "--help"], ["keys", "list", "-h"], ["keys", "revoke", "--help"], ["help", "keys"]]) {
      const result = await cli(argv)
      expect([result.code, result.err], argv.join(" ")).toEqual([0, ""])
      expect(result.out, argv.join(" ")).toMatch(/^usage:\n {2}sollol keys create/)
    }
    for (const argv of [[], ["--help"], ["-h"], ["help"], ["help", "help"], ["help", "--help"]]) {
      expect(await cli(argv), argv.join(" ")).toEqual({ code: 0, out: cliUsage, err: "" })
    }
  })

  it("lists every flag serve and demo accept, and the SOLLOL_* variables serve reads", () => {
    for (const flag of ["--host", "--port", "--node", "--strategy", "--config", "--help"]) expect(serveUsage).toContain(flag)
    for (const name of ["SOLLOL_HOST", "SOLLOL_PORT", "SOLLOL_NODES", "SOLLOL_STRATEGY", "SOLLOL_CONFIG", "SOLLOL_DB", "SOLLOL_LOG_LEVEL", "SOLLOL_AUTH"]) {
      expect(serveUsage).toContain(name)
    }
    for (const flag of ["--port", "--host", "--strategy", "--time-scale", "--help"]) expect(demoUsage).toContain(flag)
  })

  it("does not take a flag's value for a help request", async () => {
    const result = await cli(["serve", "--node", "-h", "--port", "abc"])
    expect(result.code).toBe(2)
    expect(result.out).toBe("")
  })
})

describe("sollol <command> --bogus", () => {
  it("prints `sollol <command>: <message>`, a blank line and the usage to stderr, and exits 2", async () => {
    for (const [command, usage] of usages) {
      expect(await cli([command, "--bogus"]), command).toEqual({ code: 2, out: "", err: `sollol ${command}: Unknown option '--bogus'\n\n${usage}` })
    }
    const keys = await cli(["keys", "list", "--bogus"])
    expect(keys.code).toBe(2)
    expect(keys.err).toMatch(/^sollol keys: Unknown option '--bogus'[^\n]*\n\nusage:\n/)
    expect(await cli(["frobnicate"])).toEqual({ code: 2, out: "", err: `sollol: unknown command 'frobnicate'\n\n${cliUsage}` })
  })
})

describe("numeric flags", () => {
  it("take decimal numbers only: 0x50, 1e3 or 0b1 is a typo, not port 80", async () => {
    for (const argv of [
      ["sim-node", "--profile", "cpu", "--port", "0x50"],
      ["sim-node", "--profile", "cpu", "--port", "1e3"],
      ["sim-node", "--profile", "cpu", "--time-scale", "0x10"],
      ["simulate", "--scenario", "hetero3", "--requests", "0x10"],
      ["simulate", "--scenario", "hetero3", "--seed", "0b1"],
      ["demo", "--time-scale", "1e1"],
      ["serve", "--port", "0x50"]
    ]) {
      const result = await cli(argv)
      expect(result.code, argv.join(" ")).toBe(2)
      expect(result.out, argv.join(" ")).toBe("")
    }
  })
})
