/**
 * How pull and create answer (server/routes.go): a stream of progress lines (`streamResponse`), or with
 * `stream:false` only the last of them (`waitForStream`). An error before any byte is a JSON body with its status
 * (500 unless it carries one); once a stream has started it is one more `{"error"}` line, and the status stays 200.
 */
import { Effect } from "effect"
import type { UpstreamError } from "../domain/errors.js"
import { goJson, NDJSON, sendBody, sendJson } from "./wire.js"
import type { Reply } from "./wire.js"

/** Both handlers set exactly this before gin's `c.JSON`, which then keeps it. */
const JSON_PLAIN = "application/json"

export interface Progress {
  /** One progress object, e.g. `{"status":"writing manifest"}`. */
  readonly send: (value: Readonly<Record<string, unknown>>) => Effect.Effect<void, UpstreamError>
  /** Ends with an error. */
  readonly fail: (message: string, status?: number) => Effect.Effect<void, UpstreamError>
  /** Ends after the last progress object: nothing more on a stream, that object with 200 otherwise. */
  readonly end: Effect.Effect<void, UpstreamError>
}

export const makeProgress = (reply: Reply, stream: boolean): Progress => {
  let started = false
  let latest: Readonly<Record<string, unknown>> = {}
  return {
    send: (value) =>
      Effect.suspend(() => {
        latest = value
        if (!stream) return Effect.void
        const head = started ? Effect.void : reply.head(200, { "content-type": NDJSON })
        started = true
        return Effect.zipRight(head, reply.write(goJson(value) + "\n"))
      }),
    fail: (message, status = 500) =>
      Effect.suspend(() =>
        started ? reply.write(goJson({ error: message }) + "\n") : sendJson(reply, status, { error: message }, JSON_PLAIN)
      ),
    end: Effect.suspend(() => (stream ? Effect.void : sendBody(reply, 200, JSON_PLAIN, goJson(latest))))
  }
}
