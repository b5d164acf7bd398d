import { afterEach, describe, expect, it, vi } from "vitest"
import { parseSimNodeArgs, simNodeMain } from "../../src/cli/simNode.js"
import { parseFault } from "../../src/sim/faults.js"

afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

describe("sollol sim-node", () => {
  it("parses its flags, repeated models and a fault with an argument", () => {
    expect(parseSimNodeArgs(["--port", "0", "--profile", "cpu", "--model", "llama3.2:3b", "--model", "all-minilm", "--time-scale", "50", "--seed", "9", "--fault", "slow:3"]))
      .toEqual({ profile: "cpu", port: 0, host: "127.0.0.1", models: ["llama3.2:3b", "all-minilm"], timeScale: 50, seed: 9, fault: { mode: "slow", factor: 3 } })
    expect(parseFault("flap:2000")).toEqual({ mode: "flap", periodMs: 2000 })
    expect(parseFault("truncate")).toEqual({ mode: "truncate", afterChunks: 3 })
    expect(parseFault("crash:5")).toEqual({ mode: "crash", afterChunks: 5 })
    expect(typeof parseFault("refuse:1")).toBe("string")
    expect(parseSimNodeArgs(["--profile", "cpu", "--model", "LLAMA3.2", "--model", "nope:1"]))
      .toMatch(/^--model nope:1: not in the cpu profile \(it has llama3\.2:3b, /)
  })

  it("rejects bad flags with a message and exit code 2", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {})
    await simNodeMain(["--profile", "tpu"])
    expect(process.exitCode).toBe(2)
    expect(String(err.mock.calls[0]?.[0])).toContain("unknown profile")
    process.exitCode = undefined
    await simNodeMain(["--profile", "cpu", "--bogus"])
    expect(process.exitCode).toBe(2)
  })

  it("serves until SIGTERM, printing where it listens", async () => {
    let printed = ""
    const listening = new Promise<string>((resolve) => {
      vi.spyOn(console, "log").mockImplementation((line: string) => {
        printed = line
        resolve(line)
      })
    })
    const done = simNodeMain(["--port", "0", "--profile", "gpu-consumer", "--time-scale", "1000"])
    const line = await listening
    expect(line).toMatch(/^sim-node gpu-consumer listening on http:\/\/127\.0\.0\.1:\d+$/)
    const url = line.slice(line.indexOf("http"))
    expect(await (await fetch(`${url}/api/version`)).json()).toEqual({ version: "0.33.0" })
    process.emit("SIGTERM")
    await done
    await expect(fetch(`${url}/api/version`)).rejects.toThrow()
    expect(printed).toContain("listening")
  })
})
