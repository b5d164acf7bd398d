/** NDJSON framing: one splitter for every place that reads Ollama's line-delimited streams. */

/** Splits a byte stream into non-empty lines, across chunk boundaries; `flush` emits a last unterminated line. */
export const makeLineSplitter = (onLine: (line: string) => void) => {
  const decoder = new TextDecoder()
  let rest = ""
  const take = (line: string) => {
    if (line.trim() !== "") onLine(line)
  }
  return {
    push: (chunk: Uint8Array): void => {
      rest += decoder.decode(chunk, { stream: true })
      for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
        take(rest.slice(0, nl))
        rest = rest.slice(nl + 1)
      }
    },
    flush: (): void => {
      take(rest + decoder.decode())
      rest = ""
    }
  }
}
