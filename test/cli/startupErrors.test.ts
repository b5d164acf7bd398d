/**
 * A bad config stops `serve` and `demo` before anything starts, with `sollol <cmd>: <field>: <problem>` and exit 2;
 * a port in use is one line and exit 1, after whatever had started stopped again.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo, Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Either, Exit, Option } from "effect"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import { runCli } from "../../src/cli/commands.js"
import { parseDemoArgs, runDemo } from "../../src/cli/demo.js"
import { validateConfig } from "../../src/cli/loadConfig.js"
import { parseServeArgs } from "../../src/cli/serve.js"
import { simNodeMain } from "../../src/cli/simNode.js"
import { builtinStrategies } from "../../src/strategies/catalog.js"
import { layerRoundRobin } from "../../src/strategies/roundRobin.js"

const dir = mkdtempSync(join(tmpdir(), "sollol-cli-startup-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

const known = Object.keys(builtinStrategies).join(", ")

const capture = () => {
  const out: Array<string> = []
  const err: Array<string> = []
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line))
  vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line))
  return { out, err }
}

/** A port held by a plain TCP server on 127.0.0.1, so that listening on it fails with EADDRINUSE. */
const holdPort = () =>
  new Promise<Server>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => resolve(server))
  })
const portOf = (server: Server) => (server.address() as AddressInfo).port
const release = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()))

const configMessage = (result: Either.Either<unknown, { readonly _tag: string; readonly message?: string }>) =>
  Either.isLeft(result) && result.left._tag === "Config" ? result.left.message : `not a config error: ${JSON.stringify(result)}`

describe("a bad config", () => {
  it("stops serve with `sollol serve: <field>: <problem>` and exit 2, whichever source named it", async () => {
    const strategy = `strategy: unknown strategy 'nope' (known: ${known})`
    expect(configMessage(parseServeArgs(["--strategy", "nope"], {}))).toBe(strategy)
    expect(configMessage(parseServeArgs([], { SOLLOL_STRATEGY: "nope" }))).toBe(strategy)
    const file = join(dir, "nope.yaml")
    writeFileSync(file, "strategy: nope\nqueue:\n  maxSize: -1\n")
    expect(configMessage(parseServeArgs(["--config", file], {}))).toBe(`queue.maxSize: Expected a non-negative number, actual -1; ${strategy}`)
    expect(Either.isRight(parseServeArgs(["--strategy", "p2c-ewma"], {}))).toBe(true)

    const { out, err } = capture()
    expect(await runCli(["serve", "--strategy", "nope"])).toBe(2)
    expect([out, err]).toEqual([[], [`sollol serve: ${strategy}`]])
  })

  it("knows the strategies the gateway is started with, custom ones included", () => {
    expect(Either.isLeft(validateConfig({ strategy: "mine" }))).toBe(true)
    expect(Either.getOrThrow(validateConfig({ strategy: "mine" }, { ...builtinStrategies, mine: layerRoundRobin })).strategy).toBe("mine")
  })

  it("stops demo before any simulated node starts", async () => {
    expect(configMessage(parseDemoArgs(["--port", "abc"]))).toBe(`port: Expected number, actual "abc"`)
    expect(configMessage(parseDemoArgs(["--port", "99999"]))).toBe("port: Expected a number between 0 and 65535, actual 99999")
    expect(configMessage(parseDemoArgs(["--strategy", "nope", "--time-scale", "0"])))
      .toBe(`strategy: unknown strategy 'nope' (known: ${known}); time-scale: must be a positive number, got '0'`)
    const { out, err } = capture()
    expect(await runCli(["demo", "--port", "abc"])).toBe(2)
    expect([out, err]).toEqual([[], [`sollol demo: port: Expected number, actual "abc"`]])
  })
})

describe("a port in use", () => {
  it("stops sim-node with one line and exit code 1", async () => {
    const held = await holdPort()
    try {
      const { out, err } = capture()
      await simNodeMain(["--port", String(portOf(held)), "--profile", "cpu"])
      expect(process.exitCode).toBe(1)
      expect([out, err]).toEqual([[], [`sollol sim-node: cannot listen on 127.0.0.1:${portOf(held)}: address already in use`]])
    } finally {
      await release(held)
    }
  })

  it("fails the demo with one line after stopping the simulated nodes it started", async () => {
    const held = await holdPort()
    try {
      const { out } = capture()
      const args = Either.getOrThrow(parseDemoArgs(["--port", String(portOf(held)), "--time-scale", "100"]))
      const exit = await Effect.runPromiseExit(Effect.scoped(runDemo({ ...args, config: { ...args.config, logLevel: "none" } })))
      expect(Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : "started")
        .toBe(`cannot listen on 127.0.0.1:${portOf(held)}: address already in use`)
      const urls = out.map((line) => /on (http:\S+)$/.exec(line)?.[1]).filter((url) => url !== undefined)
      expect(urls).toHaveLength(3)
      for (const url of urls) await expect(fetch(`${url}/api/version`)).rejects.toThrow()
    } finally {
      await release(held)
    }
  })

  it("stops serve with one line on stderr and exit code 1 (the real executable)", async () => {
    const held = await holdPort()
    try {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "serve", "--port", String(portOf(held)), "--node", "http://127.0.0.1:9"],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SOLLOL_DB: ":memory:", SOLLOL_LOG_LEVEL: "none" } }
      )
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
      expect({ code, stdout, stderr }).toEqual({
        code: 1,
        stdout: "",
        stderr: `sollol serve: cannot listen on 127.0.0.1:${portOf(held)}: address already in use\n`
      })
    } finally {
      await release(held)
    }
  })
})
