/** Drives a SimNode in process: collects the head and body of one request as a fiber. */
import { Effect } from "effect"
import type { UpstreamError } from "../../src/domain/errors.js"
import type { UpstreamHead } from "../../src/domain/Upstream.js"
import type { SimNode } from "../../src/sim/SimNode.js"

export interface Collected {
  readonly status: number
  readonly headers: UpstreamHead["headers"]
  readonly body: string
  readonly chunks: ReadonlyArray<string>
}

const decoder = new TextDecoder()

export const call = (
  node: SimNode,
  method: string,
  path: string,
  body?: unknown
): Effect.Effect<Collected, UpstreamError> =>
  Effect.suspend(() => {
    let head: UpstreamHead | undefined
    const chunks: Array<string> = []
    const raw = body === undefined ? undefined : new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body))
    return node.handle({ method, path, headers: {}, body: raw }, (h) => {
      head = h
      return { write: (c) => void chunks.push(decoder.decode(c)) }
    }).pipe(Effect.map(() => ({ status: head?.status ?? 0, headers: head?.headers ?? {}, body: chunks.join(""), chunks })))
  })

export const json = (c: Collected): Record<string, unknown> => JSON.parse(c.body) as Record<string, unknown>

export const lines = (c: Collected): Array<Record<string, unknown>> =>
  c.body.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

export const chatBody = (model: string, content: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content }],
  stream: false,
  ...extra
})
