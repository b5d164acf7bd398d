/**
 * The one seam between the workflow and a node: an HTTP node (undici pool) and a simulated node
 * (in-process model on Effect's clock) both implement it, so the runtime never knows which it talks to.
 * Bytes never enter Effect: the attempt hands the head to `accept`, which returns where the body goes.
 */
import type { Effect } from "effect"
import type { UpstreamError } from "./errors.js"
import type { NodeId } from "./NodeId.js"
import type { UpstreamRequest } from "./Request.js"

export interface UpstreamHead {
  readonly status: number
  /** Lower-case names; values as received. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/** Where a response body goes, chunk by chunk. */
export interface BodySink {
  /** Takes one chunk. Returning `false` asks the upstream to pause until `onDrain`'s callback runs. */
  readonly write: (chunk: Uint8Array) => boolean | void
  /** Registers a one-shot callback for when the sink can take more after `write` returned `false`. */
  readonly onDrain?: (resume: () => void) => void
}

/** Per-attempt limits; an Upstream enforces what its transport can (HTTP: undici's timers). */
export interface SendOptions {
  /** Time to the response head in ms (a model load can take long); 0: none. */
  readonly firstByteTimeoutMs?: number
  /** Longest gap between body chunks in ms. */
  readonly idleTimeoutMs?: number
  /** Whole attempt in ms (only an Upstream with `enforcesTimeouts` reads it); `Infinity`: none. */
  readonly totalTimeoutMs?: number
}

export interface Upstream {
  readonly nodeId: NodeId
  /** Base URL (`http://host:port`), or `sim://name` for an in-process node. */
  readonly url: string
  /**
   * True when `send` enforces all three `SendOptions` limits itself (HTTP: undici's timers), failing with the
   * matching `FirstByteTimeout` / `IdleTimeout` / `TotalTimeout` reason; the workflow then runs no watchdog of its
   * own. Absent or false: the workflow enforces them on Effect's clock (the in-process simulator).
   */
  readonly enforcesTimeouts?: boolean
  /**
   * One attempt. `accept` is called once with the status and headers, before any body chunk; the body then
   * flows into the sink it returns. Succeeds when the body has ended. Fails with `UpstreamError` on a
   * transport failure or a body cut short (a non-2xx status is NOT a failure here: `accept` sees it).
   * Interrupting the effect aborts the upstream request.
   */
  readonly send: (
    request: UpstreamRequest,
    accept: (head: UpstreamHead) => BodySink,
    options?: SendOptions
  ) => Effect.Effect<void, UpstreamError>
}
