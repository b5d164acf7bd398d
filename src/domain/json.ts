/** JSON as Ollama writes it: compact, with U+2028/U+2029/U+0085 escaped so line-based parsers never split a value. */
const LINE_BREAKERS = /[\u2028\u2029\u0085]/g

export const stringifyJson = (value: unknown): string =>
  JSON.stringify(value).replace(LINE_BREAKERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

export const encoder = new TextEncoder()
