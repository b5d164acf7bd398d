/**
 * The Promise APIs' types are a contract too: a caller's code that type-checks must not meet another shape at run
 * time. Each case is a small file type-checked with the project's own compiler options; the `bad` cases must fail.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const compilerOptions = (): ts.CompilerOptions => {
  const read = ts.readConfigFile(join(root, "tsconfig.json"), ts.sys.readFile)
  // each snippet imports more than it uses
  return { ...ts.parseJsonConfigFileContent(read.config, ts.sys, root).options, noUnusedLocals: false }
}

/** Type errors of each snippet, checked in one program (the library's types are loaded once). */
const typeErrors = (snippets: Record<string, string>): Record<string, Array<string>> => {
  const files = new Map(Object.entries(snippets).map(([name, code]) => [join(root, "test", "client", "fixtures", `${name}.ts`), code]))
  const options = compilerOptions()
  const host = ts.createCompilerHost(options)
  const readFile = host.readFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  host.readFile = (file) => files.get(file) ?? readFile(file)
  host.fileExists = (file) => files.has(file) || fileExists(file)
  const program = ts.createProgram([...files.keys()], options, host)
  const out: Record<string, Array<string>> = {}
  for (const [file] of files) {
    const name = file.slice(file.lastIndexOf("/") + 1, -3)
    out[name] = ts.getPreEmitDiagnostics(program, program.getSourceFile(file))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
  }
  return out
}

const prelude = `
import { connect, createSollol } from "../../../src/index.js"
import type { ChatRequest, ChatResponse } from "../../../src/index.js"
declare const sollol: Awaited<ReturnType<typeof createSollol>>
declare const flag: boolean
export {}
`

describe("the library's types", () => {
  it("say a stream is a stream, and make a caller check when `stream` is only known as a boolean", () => {
    const errors = typeErrors({
      literals: `${prelude}
        const whole: ChatResponse = await sollol.chat({ model: "m", messages: [] })
        const alsoWhole: ChatResponse = await sollol.chat({ model: "m", messages: [], stream: false })
        const chunks: AsyncIterable<ChatResponse> = await sollol.chat({ model: "m", messages: [], stream: true })
        const either = await sollol.chat({ model: "m", messages: [], stream: flag })
        if (Symbol.asyncIterator in either) { for await (const c of either) c.done } else either.done
        void whole; void alsoWhole; void chunks`,
      readmeConnect: `${prelude}
        const client = connect("http://127.0.0.1:8000", { apiKey: process.env["SOLLOL_KEY"], priority: 3 })
        void client`,
      badVariable: `${prelude}
        const req = { model: "m", messages: [], stream: true }
        const typed: ChatResponse = await sollol.chat(req)
        void typed`,
      badTyped: `${prelude}
        declare const req: ChatRequest
        const typed: ChatResponse = await sollol.chat(req)
        void typed`
    })
    expect(errors.literals).toEqual([])
    expect(errors.readmeConnect).toEqual([])
    expect(errors.badVariable!.join("\n")).toMatch(/AsyncIterable<ChatResponse>/)
    expect(errors.badTyped!.join("\n")).toMatch(/AsyncIterable<ChatResponse>/)
  }, 60_000)
})
