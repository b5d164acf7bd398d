/**
 * SIGHUP as a user sends it: `sollol serve --config FILE` applies the rewritten file's nodes, survives an invalid
 * one, and stops cleanly afterwards; `sollol demo`, with no file, says it ignores the signal and keeps serving.
 */
import { spawn } from "node:child_process"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startScenario } from "../../src/sim/scenarios.js"

const cli = (args: ReadonlyArray<string>) =>
  spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { stdio: ["pipe", "pipe", "pipe"] })

/** The child's output so far, and a wait for a line matching `pattern` (bounded by the test's timeout). */
const watch = (child: ChildProcessWithoutNullStreams) => {
  let output = ""
  const waiters: Array<() => void> = []
  const onData = (c: Buffer) => {
    output += c.toString()
    for (const w of waiters.splice(0)) w()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  /** The first line matching `pattern` that starts at or after `from` (an index into the output). */
  const line = (pattern: RegExp, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = output.slice(from).split("\n").find((l) => pattern.test(l))
        if (found !== undefined) return resolve(found)
        if (child.exitCode !== null) return reject(new Error(`exited (${child.exitCode}) before ${pattern}:\n${output}`))
        waiters.push(check)
      }
      check()
    })
  return { line, exited, mark: () => output.length, output: () => output }
}

/** Polls `probe` until it returns a value (at most `tries` times, 50 ms apart). */
const poll = async <A>(probe: () => Promise<A | undefined>, tries = 100): Promise<A | undefined> => {
  for (let i = 0; i < tries; i++) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 50))
  }
  return undefined
}

const nodeIds = async (base: string) => {
  const body = (await (await fetch(`${base}/api/sollol/nodes`)).json()) as { nodes: Array<{ nodeId: string }> }
  return body.nodes.map((n) => n.nodeId).sort()
}

describe("sollol serve on SIGHUP", () => {
  const dir = mkdtempSync(join(tmpdir(), "sollol-sighup-"))
  const file = join(dir, "sollol.yaml")
  const scope = Effect.runSync(Scope.make())
  let urls: ReadonlyArray<string> = []

  beforeAll(async () => {
    // two copies of the scenario: six simulated nodes on ephemeral loopback ports, four of them used
    const twice = Effect.zipWith(
      startScenario("hetero3", { timeScale: 50 }),
      startScenario("hetero3", { timeScale: 50, seed: 7 }),
      (a, b) => [...a, ...b]
    )
    const nodes = await Effect.runPromise(Scope.extend(twice, scope))
    urls = nodes.map((n) => n.url)
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(dir, { recursive: true, force: true })
  })

  const writeConfig = (nodes: ReadonlyArray<readonly [string, string]>, extra = "") =>
    writeFileSync(file, [
      "port: 0",
      "database: \":memory:\"",
      "logLevel: warn",
      "health: { probeIntervalMs: 200, modelsIntervalMs: 1000 }",
      "nodes:",
      ...nodes.map(([name, url]) => `  - { name: ${name}, url: "${url}" }`),
      extra
    ].join("\n"))

  it("adds and removes nodes from the rewritten file, keeps admin-added ones, and survives an invalid file", async () => {
    const [u0 = "", u1 = "", u2 = "", u3 = ""] = urls
    writeConfig([["gpu-1", u0], ["gpu-2", u1]])
    const child = cli(["serve", "--config", file])
    const io = watch(child)
    try {
      const banner = await io.line(/SOLLOL gateway listening on /)
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1] ?? ""
      expect(await nodeIds(base)).toEqual(["gpu-1", "gpu-2"])
      const body = JSON.stringify({ url: u3, name: "adhoc" })
      const posted = await fetch(`${base}/api/sollol/nodes`, { method: "POST", body })
      expect(posted.status).toBe(201)

      writeConfig([["gpu-2", u1], ["gpu-3", u2]], "strategy: round-robin")
      let from = io.mark()
      child.kill("SIGHUP")
      expect(await io.line(/config reloaded:/, from)).toBe(
        "sollol serve: config reloaded: +gpu-3, -gpu-1, unchanged 1; kept adhoc (added through the admin API, not in the config)"
      )
      expect(io.output().slice(from)).toContain(
        `sollol serve: config reload: strategy: "sollol" -> "round-robin" needs a restart; still using "sollol"`
      )
      const wanted = ["adhoc", "gpu-2", "gpu-3"]
      expect(await poll(async () => {
        const ids = await nodeIds(base)
        return ids.join() === wanted.join() ? ids : undefined
      })).toEqual(wanted)

      writeFileSync(file, "port: 0\nnodes:\n  - url: ftp://nope\n")
      from = io.mark()
      child.kill("SIGHUP")
      expect(await io.line(/config reload failed/, from)).toBe(
        "sollol serve: config reload failed, keeping the current config: nodes.0.url: must be an http(s) URL without query, fragment or credentials"
      )
      expect(child.exitCode).toBeNull()
      expect(await nodeIds(base)).toEqual(wanted)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await io.exited).toBe(0)
  })
})

describe("sollol demo on SIGHUP", () => {
  it("says it ignores the signal and keeps serving", async () => {
    const child = cli(["demo", "--port", "0", "--time-scale", "50"])
    const io = watch(child)
    try {
      const banner = await io.line(/SOLLOL demo gateway listening on /)
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1] ?? ""
      const from = io.mark()
      child.kill("SIGHUP")
      expect(await io.line(/SIGHUP/, from)).toBe("sollol demo: SIGHUP ignored: no config file to reload")
      expect(child.exitCode).toBeNull()
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await io.exited).toBe(0)
  })
})
