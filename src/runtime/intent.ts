/** Builds the RoutingIntent for one validated request body: analysis plus the exact call to forward. */
import { randomUUID } from "node:crypto"
import type { Priority } from "../domain/Priority.js"
import type { RequestKind, RoutingIntent } from "../domain/Request.js"
import { analyzeBody } from "./analyze.js"

export interface IntentInput {
  readonly kind: RequestKind
  readonly body: Record<string, unknown>
  readonly priority: Priority
  readonly arrivedAt: number
  /** Upstream path (with query) and method. */
  readonly path: string
  readonly method?: string
  /** Already filtered for forwarding. */
  readonly headers: Readonly<Record<string, string>>
  /** Raw body bytes to forward when the body was not changed (saves a re-serialisation). */
  readonly raw?: Uint8Array
  readonly requestId?: string
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** A client-supplied id is kept when it is short and plain; otherwise a fresh one is made. */
export const requestIdOf = (given: string | undefined): string =>
  given !== undefined && REQUEST_ID.test(given) ? given : randomUUID()

export const makeIntent = (input: IntentInput): RoutingIntent => {
  const analysis = analyzeBody(input.kind, input.body)
  return {
    requestId: requestIdOf(input.requestId),
    kind: input.kind,
    priority: input.priority,
    arrivedAt: input.arrivedAt,
    ...analysis,
    upstream: {
      method: input.method ?? "POST",
      path: input.path,
      headers: input.headers,
      body: input.raw ?? Buffer.from(JSON.stringify(input.body))
    }
  }
}
