/**
 * SOLLOL in process: the gateway's runtime layer and request workflow, called from a TypeScript service with no
 * HTTP hop. Same config schema as the server; streams are async iterables; errors are SollolError.
 */
import { Clock, Effect, Exit, ManagedRuntime } from "effect"
import { makeAppConfig } from "../AppConfig.js"
import type { AppConfigInput } from "../AppConfig.js"
import { asSollolError, checkBatch, requestJson } from "../client/requestJson.js"
import { SollolError } from "../client/SollolError.js"
import type {
  BatchEmbedCallOptions,
  BatchEmbedResponse,
  CallOptions,
  CloseOptions,
  NodeInfo,
  SollolApi,
  Stats
} from "../client/types.js"
import { parsePriority } from "../domain/Priority.js"
import type { RequestKind } from "../domain/Request.js"
import { parseJsonObject, validateBody } from "../http/validate.js"
import { batchEmbed } from "../runtime/batchEmbed.js"
import type { BatchEmbedError } from "../runtime/batchEmbed.js"
import { makeIntent } from "../runtime/intent.js"
import * as Runtime from "../runtime/Sollol.js"
import type { RuntimeOptions } from "../runtime/Sollol.js"
import { handle } from "../runtime/workflow.js"
import type { WorkflowServices } from "../runtime/workflow.js"
import { makeEmbeddedCall } from "./embeddedSink.js"
import { causeError, closedError, gatewayError } from "./errors.js"
import { nodesOf, statsOf } from "./introspect.js"
import { makeLifecycle } from "./lifecycle.js"

export type SollolConfig = AppConfigInput & RuntimeOptions

export interface Sollol extends SollolApi {
  /** True from the moment `close()` is called: every method then rejects with SollolError 503. */
  readonly closed: boolean
  /**
   * Graceful shutdown (DESIGN §4.4), as `sollol serve` does on SIGTERM:
   * 1. at once, every new call (including `stats()` and `nodes()`) rejects with SollolError 503
   *    "this Sollol instance is closed", and `closed` is true;
   * 2. calls already running go on, streams included, until they finish or `graceMs` passes (default: the
   *    config's `limits.shutdownGraceMs`, 30 s unless set; `0` waits for nothing, `Infinity` for everything);
   * 3. calls still running then are cancelled at their node and reject (a stream throws) with SollolError 503
   *    "closed before the request finished" — never 499, which only a caller's own abort gives;
   * 4. the runtime is disposed (probes, node actors, connections), and the promise resolves.
   * Chunks a stream already received stay readable. Calling `close()` again returns the same promise.
   */
  readonly close: (options?: CloseOptions) => Promise<void>
}

/** The node `sollol serve` falls back to when none is configured anywhere (src/cli/loadConfig.ts). */
const DEFAULT_NODE = { url: "http://127.0.0.1:11434" } as const

/** `nodes` missing or empty: the local Ollama, as `sollol serve` does. */
const withDefaultNode = (input: AppConfigInput): AppConfigInput =>
  input.nodes === undefined || (Array.isArray(input.nodes) && input.nodes.length === 0)
    ? { ...input, nodes: [DEFAULT_NODE] }
    : input

const graceOf = (options: CloseOptions | undefined, configured: number): number | SollolError => {
  const grace = options?.graceMs ?? configured
  return typeof grace === "number" && grace >= 0
    ? grace
    : new SollolError({ status: 400, message: "graceMs must be a number of milliseconds, 0 or more" })
}

const priorityOf = (options: CallOptions | undefined): number => {
  const p = parsePriority(options?.priority)
  if (p === null) throw new SollolError({ status: 400, message: "priority must be an integer between 1 and 10" })
  return p ?? 5
}

/** The `/api/embed` fields a batch forwards with every chunk. */
export const embedExtra = (options: BatchEmbedCallOptions): Record<string, unknown> => {
  const extra: Record<string, unknown> = {}
  for (const key of ["dimensions", "truncate", "keep_alive", "options"] as const) {
    if (options[key] !== undefined) extra[key] = options[key]
  }
  return extra
}

/**
 * Builds the runtime (nodes probed, strategy resolved) and resolves when it is ready. It takes the config of
 * `sollol serve` (the same schema), and like it, with no node configured (`nodes` missing or empty) it uses the
 * local Ollama at http://127.0.0.1:11434. Rejects with an Error naming the field on a bad config, or an unknown
 * strategy. Every method of the result rejects with SollolError; see `close()` for shutdown.
 */
export const createSollol = async (config: SollolConfig): Promise<Sollol> => {
  const { strategies, upstreamFactory, ...input } = config
  const appConfig = makeAppConfig(withDefaultNode(input))
  const options: RuntimeOptions = {
    ...(strategies !== undefined ? { strategies } : {}),
    ...(upstreamFactory !== undefined ? { upstreamFactory } : {})
  }
  const runtime = ManagedRuntime.make(Runtime.layer(appConfig, options))
  await runtime.runtime().catch(async (error: unknown) => {
    await runtime.dispose()
    throw error instanceof Error ? error : new Error(String(error))
  })

  const life = makeLifecycle()
  /**
   * Every method checks this first, synchronously: once `close()` was called, nothing new starts. What a method
   * throws before its promise exists (a bad request) becomes that promise's rejection, so `.catch` sees every error.
   */
  const open = <A>(f: () => Promise<A>): Promise<A> => {
    if (life.closed()) return Promise.reject(closedError())
    try {
      return f()
    } catch (error) {
      return Promise.reject(asSollolError(error))
    }
  }

  const call = <A>(kind: RequestKind, path: string, request: object, options: CallOptions | undefined): Promise<A> => {
    const parsed = parseJsonObject(Buffer.from(requestJson(request))).pipe((e) =>
      e._tag === "Right" ? validateBody(kind, { stream: false, ...e.right }) : e
    )
    if (parsed._tag === "Left") throw gatewayError(parsed.left)
    const body = parsed.right
    const priority = priorityOf(options)
    const intent = makeIntent({ kind, body, priority, arrivedAt: 0, path, headers: { "content-type": "application/json" } })
    // Leaving a stream early stops the call as the caller; `tracked` exists by the time a consumer can do that.
    const embedded = makeEmbeddedCall<A>(intent.stream, () => tracked.stop("caller"))
    const tracked = life.track(
      runtime.runFork(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.asVoid(handle({ ...intent, arrivedAt: now }, embedded.sink)))),
      options?.signal
    )
    tracked.fiber.addObserver((exit) => embedded.settle(exit, tracked.stoppedBy()))
    return embedded.result
  }

  const run = <A>(effect: Effect.Effect<A, BatchEmbedError, WorkflowServices>, signal?: AbortSignal): Promise<A> =>
    new Promise<A>((resolve, reject) => {
      const tracked = life.track(runtime.runFork(effect), signal)
      tracked.fiber.addObserver((exit) =>
        Exit.isSuccess(exit) ? resolve(exit.value) : reject(causeError(exit.cause, tracked.stoppedBy()))
      )
    })

  return {
    get closed() {
      return life.closed()
    },
    chat: (request, options) => open(() => call("chat", "/api/chat", request, options)),
    generate: (request, options) => open(() => call("generate", "/api/generate", request, options)),
    embed: (request, options) => open(() => call("embed", "/api/embed", request, options)),
    batchEmbed: (documents, options: BatchEmbedCallOptions): Promise<BatchEmbedResponse> => open(() => {
      checkBatch(documents, options)
      const extra = embedExtra(options)
      const valid = validateBody("embed", { model: options.model, ...extra })
      if (valid._tag === "Left") throw gatewayError(valid.left)
      return run(batchEmbed(documents, {
        model: options.model,
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        priority: priorityOf(options),
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
        extra
      }), options.signal).then((r) => ({
        model: r.model,
        embeddings: r.embeddings,
        total_duration: r.totalDuration,
        load_duration: r.loadDuration,
        prompt_eval_count: r.promptEvalCount,
        _sollol_routing: { chunks_by_node: r.chunksByNode, docs_by_node: r.docsByNode, retries: r.retries }
      }))
    }),
    stats: (): Promise<Stats> => open(() => run(statsOf)),
    nodes: (): Promise<ReadonlyArray<NodeInfo>> => open(() => run(nodesOf)),
    close: (options) => {
      // once closing, the first call's deadline holds: the same promise whatever the options
      const grace = life.closed() ? 0 : graceOf(options, appConfig.limits.shutdownGraceMs)
      return grace instanceof SollolError ? Promise.reject(grace) : life.close(grace, () => runtime.dispose())
    }
  }
}
