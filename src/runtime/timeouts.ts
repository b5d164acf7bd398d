/**
 * Per-route-class time limits for one attempt: time to first byte, idle gap between chunks, and total. A transport
 * that cannot enforce them (the in-process simulator) gets a watchdog on Effect's clock, so TestClock drives it;
 * the HTTP transport enforces all three (and connect) with undici's timers, which costs no fiber per attempt.
 */
import { Clock, Effect } from "effect"
import { UpstreamError } from "../domain/errors.js"
import type { NodeId } from "../domain/NodeId.js"
import { isEmbeddingKind } from "../domain/Request.js"
import type { RequestKind } from "../domain/Request.js"

export interface ClassTimeouts {
  /** Time to the response head, ms. */
  readonly firstByteMs: number
  /** Longest gap between body chunks, ms. */
  readonly idleMs: number
  /** Whole attempt, ms. */
  readonly totalMs: number
}

export type TimeoutClass = "generation" | "embedding" | "show"

export type TimeoutTable = Readonly<Record<TimeoutClass, ClassTimeouts>>

export const timeoutClassOf = (kind: RequestKind): TimeoutClass =>
  kind === "show" ? "show" : isEmbeddingKind(kind) ? "embedding" : "generation"

/** What the attempt saw of the response so far; its callbacks run outside Effect, on every chunk. */
export interface Activity {
  readonly sentAt: number
  headAt: number | undefined
  lastAt: number
}

export const makeActivity = (now: number): Activity => ({ sentAt: now, headAt: undefined, lastAt: now })

const timeoutError = (nodeId: NodeId, reason: TimeoutReason, limits: ClassTimeouts, cls: TimeoutClass) =>
  new UpstreamError({
    nodeId,
    reason,
    detail: reason === "FirstByteTimeout"
      ? `no response within ${limits.firstByteMs} ms (${cls} first-byte timeout)`
      : reason === "IdleTimeout"
      ? `no data for ${limits.idleMs} ms (${cls} idle timeout)`
      : `not finished within ${limits.totalMs} ms (${cls} total timeout)`
  })

type TimeoutReason = "FirstByteTimeout" | "IdleTimeout" | "TotalTimeout"

/** One fiber, one timer at a time: sleeps to the nearest of the head/idle deadline and the total deadline. */
const watchdog = (nodeId: NodeId, activity: Activity, limits: ClassTimeouts, cls: TimeoutClass) =>
  Effect.gen(function*() {
    const totalAt = activity.sentAt + limits.totalMs
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const waitingHead = activity.headAt === undefined
      const deadline = waitingHead ? activity.sentAt + limits.firstByteMs : activity.lastAt + limits.idleMs
      if (now >= deadline || now >= totalAt) {
        const reason = now >= deadline ? (waitingHead ? "FirstByteTimeout" : "IdleTimeout") : "TotalTimeout"
        return yield* timeoutError(nodeId, reason, limits, cls)
      }
      yield* Effect.sleep(Math.min(deadline, totalAt) - now)
    }
  })

/** Gives a limit the transport enforced the same sentence the watchdog would have used. */
const relabel = (limits: ClassTimeouts, cls: TimeoutClass) => (error: UpstreamError): UpstreamError =>
  error.reason === "FirstByteTimeout" || error.reason === "IdleTimeout" || error.reason === "TotalTimeout"
    ? timeoutError(error.nodeId, error.reason, limits, cls)
    : error

/**
 * Runs one upstream send under the three limits. Whichever fires first interrupts the send, which aborts the
 * upstream request; the error names the limit. When the transport enforces the limits itself (`enforced`, see
 * `Upstream.enforcesTimeouts`), no watchdog fiber runs: only its errors are worded the same way.
 */
export const withTimeouts = <R>(
  send: Effect.Effect<void, UpstreamError, R>,
  nodeId: NodeId,
  activity: Activity,
  limits: ClassTimeouts,
  cls: TimeoutClass,
  enforced = false
): Effect.Effect<void, UpstreamError, R> =>
  enforced
    ? Effect.mapError(send, relabel(limits, cls))
    : Effect.raceFirst(send, watchdog(nodeId, activity, limits, cls))

/** A client-facing sentence for a failed attempt that names the limit or failure. */
export const describeUpstreamError = (error: UpstreamError): string => {
  const detail = error.detail !== undefined ? `: ${error.detail}` : ""
  switch (error.reason) {
    case "ConnectTimeout":
      return `connect timeout: could not connect to node ${error.nodeId}${detail}`
    case "FirstByteTimeout":
      return `first-byte timeout: node ${error.nodeId} did not answer in time${detail}`
    case "IdleTimeout":
      return `idle timeout: node ${error.nodeId} stopped sending mid-response${detail}`
    case "TotalTimeout":
      return `total timeout: node ${error.nodeId} took too long${detail}`
    case "Truncated":
      return `node ${error.nodeId} cut the response short${detail}`
    case "StreamError":
      return `node ${error.nodeId} failed mid-stream${detail}`
    case "Transport":
      return `node ${error.nodeId} is unreachable${detail}`
    case "Closed":
      return `the gateway closed its connections to node ${error.nodeId} (removed from the cluster, or shutting down)`
    case "StatusCode":
      return error.message
  }
}

type Overrides = { readonly [K in keyof ClassTimeouts]?: number | undefined }

const over = (base: ClassTimeouts, o: Overrides): ClassTimeouts => ({
  firstByteMs: o.firstByteMs ?? base.firstByteMs,
  idleMs: o.idleMs ?? base.idleMs,
  totalMs: o.totalMs ?? base.totalMs
})

/** The table from config: generation takes the top-level limits; embedding and show override field by field. */
export const timeoutTableOf = (config: {
  readonly timeouts: ClassTimeouts & { readonly embedding: Overrides; readonly show: Overrides }
}): TimeoutTable => {
  const { embedding, firstByteMs, idleMs, show, totalMs } = config.timeouts
  const generation = { firstByteMs, idleMs, totalMs }
  return {
    generation,
    embedding: over(generation, embedding),
    show: over({ firstByteMs: 30_000, idleMs: 30_000, totalMs: 60_000 }, show)
  }
}
