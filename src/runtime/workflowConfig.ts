/** The workflow's settings and retry budget as services, so the runtime layer (Sollol.ts) builds them from config. */
import { Context } from "effect"
import type { NodeId } from "../domain/NodeId.js"
import type { RetryBudget } from "./retryPolicy.js"
import type { TimeoutTable } from "./timeouts.js"

export interface WorkflowSettings {
  /** Attempts per request, first included. */
  readonly maxAttempts: number
  /** Base of the jittered exponential backoff between attempts, ms. */
  readonly retryBackoffMs: number
  /** Add `_sollol_routing` to non-streaming JSON answers. */
  readonly includeRoutingInfo: boolean
  /** When nothing is routable for the model: try the least-recently-failed node (true) or fail fast with 503. */
  readonly panicMode: boolean
  /** Time limits per route class (generation, embedding, show). */
  readonly timeouts: TimeoutTable
  /** Hedge non-streaming requests after the observed p95 of their (model, kind). */
  readonly hedging: boolean
  /** Nodes whose slots were configured (learned slots never override them). */
  readonly configuredSlots: ReadonlySet<NodeId>
}

export class WorkflowConfig extends Context.Tag("sollol/WorkflowConfig")<WorkflowConfig, WorkflowSettings>() {}
export class RetryBudgetTag extends Context.Tag("sollol/RetryBudget")<RetryBudgetTag, RetryBudget>() {}
