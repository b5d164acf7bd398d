/** The CLI as a user runs it: `sollol demo` answers /api/tags within seconds and stops cleanly on SIGTERM. */
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const cli = (args: ReadonlyArray<string>) =>
  spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] })

describe("sollol demo", () => {
  it("serves the simulated cluster's models and shuts down on SIGTERM", async () => {
    const port = await freePort()
    const child = cli(["demo", "--port", String(port)])
    let output = ""
    child.stdout.on("data", (c: Buffer) => (output += c.toString()))
    child.stderr.on("data", (c: Buffer) => (output += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    try {
      let tags: { models: Array<{ name: string }> } | undefined
      for (let i = 0; i < 200 && tags === undefined; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/tags`)
          if (res.ok) tags = (await res.json()) as { models: Array<{ name: string }> }
        } catch {
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      expect(tags?.models.map((m) => m.name)).toContain("llama3.2:3b")
      expect(output).toContain(`listening on http://127.0.0.1:${port}`)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
  })

  it("rejects a bad config with a message naming the field and exit code 2", async () => {
    const child = cli(["serve", "--port", "not-a-port"])
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(code).toBe(2)
    expect(stderr).toMatch(/port/)
  })
})
