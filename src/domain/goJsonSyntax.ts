/**
 * How Ollama reads a request body: gin's `ShouldBindJSON` runs Go's `json.Decoder.Decode`, which takes the first
 * JSON value of the body and ignores what follows it, and words a malformed one as `encoding/json`'s scanner does
 * (`invalid character 'x' looking for beginning of value`, `unexpected EOF`, …). Shared by the gateway, which
 * refuses a body before any node sees it, and by the simulated nodes.
 */

/** The first JSON value's end (an index into `text`), or Go's error for it. */
export type FirstValue = { readonly ok: true; readonly end: number } | { readonly ok: false; readonly message: string }

const ESCAPES: Readonly<Record<number, string>> = {
  0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0b: "\\v", 0x0c: "\\f", 0x0d: "\\r", 0x5c: "\\\\"
}

/**
 * Go's `quoteChar(c byte)`: the scanner reads bytes, so a non-ASCII character is named by its first UTF-8 byte read
 * as Latin-1 (`é` → `'Ã'`), quoted as `strconv.Quote` quotes it.
 */
const quoteChar = (c: string): string => {
  if (c === "'") return "'\\''"
  if (c === '"') return "'\"'"
  const code = c.charCodeAt(0)
  // a high surrogate starts a 4-byte sequence, whose first byte its own bits decide
  const byte = code < 0x80
    ? code
    : code >= 0xd800 && code <= 0xdbff
    ? 0xf0 | ((0x10000 + ((code - 0xd800) << 10)) >> 18)
    : Buffer.from(c, "utf8")[0]!
  const escaped = ESCAPES[byte]
  if (escaped !== undefined) return `'${escaped}'`
  if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, "0")}'`
  // Latin-1 controls and the soft hyphen are not printable for strconv.Quote
  if ((byte >= 0x80 && byte <= 0xa0) || byte === 0xad) return `'\\u00${byte.toString(16).padStart(2, "0")}'`
  return `'${String.fromCharCode(byte)}'`
}

class Syntax extends Error {}
class Eof extends Error {}

/** Go's `maxNestingDepth`: deeper bodies are refused with `invalid character '[' exceeded max depth`. */
const MAX_DEPTH = 10_000

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r"
const isDigit = (c: string) => c >= "0" && c <= "9"

/** Scans the first JSON value of `text` after leading whitespace, with Go's scanner's errors. */
export const firstJsonValue = (text: string): FirstValue => {
  let i = 0
  const at = () => {
    if (i >= text.length) throw new Eof()
    return text[i]!
  }
  const fail = (c: string, context: string): never => {
    throw new Syntax(`invalid character ${quoteChar(c)} ${context}`)
  }
  const skipSpace = () => {
    while (i < text.length && isSpace(text[i]!)) i++
  }
  const literal = (word: string) => {
    for (let k = 1; k < word.length; k++) {
      i++
      const c = at()
      if (c !== word[k]) fail(c, `in literal ${word} (expecting ${quoteChar(word[k]!)})`)
    }
    i++
  }
  const string = () => {
    i++ // the opening quote
    for (;;) {
      const c = at()
      if (c === '"') return void i++
      if (c === "\\") {
        i++
        const e = at()
        if (e === "u") {
          for (let k = 0; k < 4; k++) {
            i++
            const h = at()
            if (!/[0-9a-fA-F]/.test(h)) fail(h, "in \\u hexadecimal character escape")
          }
        } else if (!'"\\/bfnrt'.includes(e)) fail(e, "in string escape code")
        i++
        continue
      }
      if (c < " ") fail(c, "in string literal")
      i++
    }
  }
  const digits = () => {
    while (i < text.length && isDigit(text[i]!)) i++
  }
  const number = () => {
    if (text[i] === "-") {
      i++
      if (!isDigit(at())) fail(at(), "in numeric literal")
    }
    if (text[i] === "0") i++
    else digits()
    if (text[i] === ".") {
      i++
      if (!isDigit(at())) fail(at(), "after decimal point in numeric literal")
      digits()
    }
    if (text[i] === "e" || text[i] === "E") {
      i++
      if (text[i] === "+" || text[i] === "-") i++
      if (!isDigit(at())) fail(at(), "in exponent of numeric literal")
      digits()
    }
  }
  /** A scalar value at `i` (after whitespace), or the opening of a container (returned, not yet consumed). */
  const scalarOrOpen = (): "{" | "[" | undefined => {
    skipSpace()
    const c = at()
    if (c === "{" || c === "[") return c
    if (c === '"') string()
    else if (c === "-" || isDigit(c)) number()
    else if (c === "t") literal("true")
    else if (c === "f") literal("false")
    else if (c === "n") literal("null")
    else fail(c, "looking for beginning of value")
    return undefined
  }
  /**
   * One value, containers walked with an explicit stack (a body nested a million deep must not overflow the call
   * stack), as deep as Go's scanner allows.
   */
  const value = (): void => {
    const open: Array<"{" | "["> = []
    let next = scalarOrOpen()
    for (;;) {
      if (next !== undefined) {
        if (open.length >= MAX_DEPTH) fail(next, "exceeded max depth")
        open.push(next)
        i++
        skipSpace()
        const close = next === "{" ? "}" : "]"
        if (at() === close) {
          i++
          open.pop()
        } else if (next === "{") {
          objectKey()
          next = scalarOrOpen()
          continue
        } else {
          next = scalarOrOpen()
          continue
        }
      }
      // a value has just ended: inside a container, a comma (then the next member) or the container's end
      const top = open.at(-1)
      if (top === undefined) return
      skipSpace()
      const c = at()
      if (c === (top === "{" ? "}" : "]")) {
        i++
        open.pop()
        next = undefined
        continue
      }
      if (c !== ",") fail(c, top === "{" ? "after object key:value pair" : "after array element")
      i++
      if (top === "{") objectKey()
      next = scalarOrOpen()
    }
  }
  /** `"key":` of an object member. */
  const objectKey = () => {
    skipSpace()
    if (at() !== '"') fail(at(), "looking for beginning of object key string")
    string()
    skipSpace()
    if (at() !== ":") fail(at(), "after object key")
    i++
  }
  try {
    value()
    return { ok: true, end: i }
  } catch (error) {
    if (error instanceof Syntax) return { ok: false, message: error.message }
    if (error instanceof Eof) return { ok: false, message: "unexpected EOF" }
    throw error
  }
}

/** Go's whitespace between JSON tokens (JavaScript's `trim` strips more). */
export const isGoJsonBlank = (text: string): boolean => /^[ \t\n\r]*$/.test(text)

/**
 * Whether a container opens deeper than Go allows, by one fast pass over the brackets outside strings: the one case
 * in which `JSON.parse` and Go disagree on a well-formed body, and in which `JSON.parse` is slow (seconds for a few
 * MiB of `[`), so it runs before it.
 */
const tooDeep = (text: string): boolean => {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // a string: skip to its closing quote, past escapes
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 0x5c) i++
        else if (d === 0x22) break
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/**
 * The body's first JSON value, as Go's decoder reads it: `JSON.parse` when the whole text is that value (the usual
 * case), else the value `firstJsonValue` finds at the start (what follows is ignored), or Go's error for it.
 */
export const parseFirstJsonValue = (
  text: string
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string } => {
  const first = tooDeep(text) ? firstJsonValue(text) : undefined
  if (first !== undefined && !first.ok) return first
  try {
    return { ok: true, value: JSON.parse(first === undefined ? text : text.slice(0, first.end)) }
  } catch {
    const scanned = first ?? firstJsonValue(text)
    if (!scanned.ok) return scanned
    try {
      return { ok: true, value: JSON.parse(text.slice(0, scanned.end)) }
    } catch (error) {
      // what Go's scanner accepts and V8's parser does not
      return { ok: false, message: error instanceof Error ? error.message : String(error) }
    }
  }
}
