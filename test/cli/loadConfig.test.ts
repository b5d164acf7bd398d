import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Either } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { loadConfig } from "../../src/cli/loadConfig.js"

const dir = mkdtempSync(join(tmpdir(), "sollol-config-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** The message loading `path` stops with (fails the test if it loads). */
const errorOf = (path: string): string => Either.getOrThrow(Either.flip(loadConfig({ config: path }, {})))

describe("loadConfig", () => {
  it("falls back to the local Ollama when no node is configured", () => {
    const config = Either.getOrThrow(loadConfig({}, {}))
    expect(config.nodes).toEqual([{ url: "http://127.0.0.1:11434" }])
    expect(config.port).toBe(8000)
    expect(config.strategy).toBe("sollol")
  })

  it("lets flags beat env and env beat the file", () => {
    const path = file("a.yaml", "port: 9000\nstrategy: random\nnodes:\n  - url: http://file:11434\nqueue:\n  maxSize: 7\n")
    const fromFile = Either.getOrThrow(loadConfig({ config: path }, {}))
    expect(fromFile.port).toBe(9000)
    expect(fromFile.queue.maxSize).toBe(7)
    expect(fromFile.queue.agingIntervalMs).toBe(5000)
    const withEnv = Either.getOrThrow(loadConfig({ config: path }, { SOLLOL_PORT: "9100", SOLLOL_NODES: "http://a:1,http://b:2" }))
    expect(withEnv.port).toBe(9100)
    expect(withEnv.nodes.map((n) => n.url)).toEqual(["http://a:1", "http://b:2"])
    const withFlags = Either.getOrThrow(loadConfig({ config: path, port: "9200", node: ["http://c:3"] }, { SOLLOL_PORT: "9100" }))
    expect(withFlags.port).toBe(9200)
    expect(withFlags.nodes.map((n) => n.url)).toEqual(["http://c:3"])
    expect(withFlags.strategy).toBe("random")
  })

  it("reads JSON config files too", () => {
    const path = file("b.json", JSON.stringify({ nodes: [{ url: "http://j:1", name: "j", slots: 2 }] }))
    expect(Either.getOrThrow(loadConfig({ config: path }, {})).nodes).toEqual([{ url: "http://j:1", name: "j", slots: 2 }])
  })

  it("stops with a message that names the bad field", () => {
    const message = errorOf(file("bad.yaml", "port: not-a-port\nnodes:\n  - url: ftp://x\nrouting:\n  maxAttempts: 0\nbogus: 1\n"))
    expect(message).toContain("port")
    expect(message).toContain("nodes.0.url")
    expect(message).toContain("routing.maxAttempts")
    expect(message).toContain("bogus")
  })

  it("stops on a nodes value that is not a list, instead of using the default node", () => {
    for (const [name, text] of [["s.yaml", 'nodes: "http://a:1"\n'], ["n.yaml", "nodes: 5\n"], ["m.yaml", 'nodes: {url: "http://a:1"}\n']]) {
      expect(errorOf(file(name!, text!))).toMatch(/^nodes: Expected ReadonlyArray/)
    }
    // left empty, it is the local Ollama
    expect(Either.getOrThrow(loadConfig({ config: file("e.yaml", "nodes:\n") }, {})).nodes).toEqual([{ url: "http://127.0.0.1:11434" }])
  })

  it("stops on two nodes with one id, naming the second", () => {
    expect(errorOf(file("d1.yaml", "nodes: [{url: 'http://a:1', name: n}, {url: 'http://b:1', name: n}]\n")))
      .toBe("nodes.1: node 'n' is configured twice (as nodes.0 too); give each node its own name")
    expect(errorOf(file("d2.yaml", "nodes: [{url: 'http://a:1'}, {url: 'http://a:1/'}]\n"))).toMatch(/^nodes\.1: node 'a:1' is configured twice/)
    // the same proxy under two paths: fine once named
    const named = "nodes: [{url: 'https://p/ollama-1', name: g1}, {url: 'https://p/ollama-2', name: g2}]\n"
    expect(Either.getOrThrow(loadConfig({ config: file("d3.yaml", named) }, {})).nodes).toHaveLength(2)
  })

  it("refuses node URLs with a query, a fragment or credentials, which the gateway could not send", () => {
    for (const url of ["http://a:1/?x=1", "http://a:1/#f", "http://u:p@a:1"]) {
      expect(errorOf(file("u.yaml", `nodes: [{url: '${url}'}]\n`)), url).toContain("nodes.0.url: must be an http(s) URL without query, fragment or credentials")
    }
  })

  it("reads the sollol strategy's weights and constants, and names a bad one", () => {
    const path = file("weights.yaml", "sollol:\n  weights: { affinity: 2, priority: 0 }\n  waitRatio: 1.2\n  priority: { highFrom: 9 }\n")
    const config = Either.getOrThrow(loadConfig({ config: path }, {}))
    expect(config.sollol).toEqual({ weights: { affinity: 2, priority: 0 }, waitRatio: 1.2, priority: { highFrom: 9 } })
    expect(Either.getOrThrow(loadConfig({}, {})).sollol).toEqual({})
    const message = errorOf(file("bad-weights.yaml", "sollol:\n  weights: { affinity: fast }\n  priority: { highFrom: 11 }\n  spillTolerance: 0.5\n  speed: 3\n"))
    expect(message).toContain("sollol.weights.affinity")
    expect(message).toContain("sollol.priority.highFrom")
    expect(message).toContain("sollol.spillTolerance")
    expect(message).toContain("sollol.speed")
  })

  it("accepts the README's example config as written", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    const example = /```yaml\n# sollol.yaml\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example).toBeDefined()
    const config = Either.getOrThrow(loadConfig({ config: file("readme.yaml", example!) }, {}))
    expect(config.nodes.map((n) => n.url)).toEqual(["http://gpu-1:11434", "http://cpu-1:11434"])
    expect(config.sollol.weights).toEqual({ completionTime: 1, health: 1, priority: 1, affinity: 1, options: 1 })
  })

  it("reports an unreadable or malformed file", () => {
    expect(Either.isLeft(loadConfig({ config: join(dir, "missing.yaml") }, {}))).toBe(true)
    const path = file("broken.yaml", "nodes: [unclosed\n")
    const result = loadConfig({ config: path }, {})
    expect(Either.isLeft(result) && result.left).toMatch(/not valid YAML/)
  })
})
