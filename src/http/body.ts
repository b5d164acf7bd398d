/** Reads a request body with a size limit; past the limit the answer is 413 and nothing more is buffered. */
import type { IncomingMessage } from "node:http"
import { BadRequest } from "../domain/errors.js"

export const readBody = (
  req: IncomingMessage,
  maxBytes: number,
  handler: (error: BadRequest | undefined, body: Buffer) => void
): void => {
  // `handler` runs in a stream event: a throw there would end the process. It costs this request its connection.
  const done = (error: BadRequest | undefined, body: Buffer) => {
    try {
      handler(error, body)
    } catch (defect) {
      req.socket?.destroy()
      process.emitWarning(defect instanceof Error ? defect : String(defect), "SollolDefect")
    }
  }
  const declared = Number(req.headers["content-length"] ?? -1)
  const tooLarge = () =>
    new BadRequest({ reason: "TooLarge", message: `request body too large (limit ${maxBytes} bytes)` })
  if (declared > maxBytes) {
    req.resume()
    return done(tooLarge(), Buffer.alloc(0))
  }
  const chunks: Array<Buffer> = []
  let size = 0
  let finished = false
  req.on("data", (chunk: Buffer) => {
    if (finished) return
    size += chunk.length
    if (size > maxBytes) {
      finished = true
      chunks.length = 0
      return done(tooLarge(), Buffer.alloc(0))
    }
    chunks.push(chunk)
  })
  req.on("end", () => {
    if (finished) return
    finished = true
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
  })
  req.on("error", () => {
    finished = true
  })
}
