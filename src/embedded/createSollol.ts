/**
 * SOLLOL in process: the gateway's runtime layer and request workflow, called from a TypeScript service with no
 * HTTP hop. Same config schema as the server; streams are async iterables; errors are SollolError.
 */
import { Cause, Clock, Effect, Exit, Fiber, ManagedRuntime } from "effect"
import { makeAppConfig } from "../AppConfig.js"
import type { AppConfigInput } from "../AppConfig.js"
import type { UnknownStrategy } from "../strategies/catalog.js"
import { SollolError } from "../client/SollolError.js"
import type { BatchEmbedCallOptions, BatchEmbedResponse, CallOptions, NodeInfo, SollolApi, Stats } from "../client/types.js"
import { parsePriority } from "../domain/Priority.js"
import type { RequestKind } from "../domain/Request.js"
import { errorResponse, messageOf } from "../http/errorResponse.js"
import { parseJsonObject, validateBody } from "../http/validate.js"
import { batchEmbed } from "../runtime/batchEmbed.js"
import type { BatchEmbedError } from "../runtime/batchEmbed.js"
import { makeIntent } from "../runtime/intent.js"
import * as Runtime from "../runtime/Sollol.js"
import type { RuntimeOptions } from "../runtime/Sollol.js"
import { handle } from "../runtime/workflow.js"
import type { WorkflowServices } from "../runtime/workflow.js"
import { makeEmbeddedCall } from "./embeddedSink.js"
import { nodesOf, statsOf } from "./introspect.js"

export type SollolConfig = AppConfigInput & RuntimeOptions

export interface Sollol extends SollolApi {}

const toSollolError = (cause: Cause.Cause<BatchEmbedError | UnknownStrategy>): unknown => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return Cause.squash(cause)
  const error = failure.value
  if (error._tag === "UnknownStrategy") return new SollolError({ status: 500, message: error.message })
  return new SollolError({ status: errorResponse(error).status, message: messageOf(error) })
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
 * Builds the runtime (nodes probed, strategy resolved) and resolves when it is ready. Rejects with an Error
 * naming the field on a bad config, or an unknown strategy.
 */
export const createSollol = async (config: SollolConfig): Promise<Sollol> => {
  const { strategies, upstreamFactory, ...input } = config
  const appConfig = makeAppConfig(input)
  const options: RuntimeOptions = {
    ...(strategies !== undefined ? { strategies } : {}),
    ...(upstreamFactory !== undefined ? { upstreamFactory } : {})
  }
  const runtime = ManagedRuntime.make(Runtime.layer(appConfig, options))
  await runtime.runtime().catch(async (error: unknown) => {
    await runtime.dispose()
    throw error instanceof Error ? error : new Error(String(error))
  })

  const call = <A>(kind: RequestKind, path: string, request: object, options: CallOptions | undefined): Promise<A> => {
    const parsed = parseJsonObject(Buffer.from(JSON.stringify(request))).pipe((e) =>
      e._tag === "Right" ? validateBody(kind, { stream: false, ...e.right }) : e
    )
    if (parsed._tag === "Left") return Promise.reject(new SollolError({ status: 400, message: parsed.left.message }))
    const body = parsed.right
    let priority: number
    try {
      priority = priorityOf(options)
    } catch (error) {
      return Promise.reject(error)
    }
    const intent = makeIntent({ kind, body, priority, arrivedAt: 0, path, headers: { "content-type": "application/json" } })
    let fiber: Fiber.RuntimeFiber<void, unknown> | undefined
    const cancel = () => {
      if (fiber !== undefined) runtime.runFork(Fiber.interrupt(fiber))
    }
    const embedded = makeEmbeddedCall<A>(intent.stream, cancel)
    const running = runtime.runFork(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.asVoid(handle({ ...intent, arrivedAt: now }, embedded.sink))))
    fiber = running
    running.addObserver(() => embedded.settle())
    options?.signal?.addEventListener("abort", cancel, { once: true })
    if (options?.signal?.aborted === true) cancel()
    return embedded.result
  }

  const run = <A>(effect: Effect.Effect<A, BatchEmbedError, WorkflowServices>, signal?: AbortSignal): Promise<A> =>
    runtime.runPromiseExit(effect, signal !== undefined ? { signal } : undefined).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw Cause.isInterruptedOnly(exit.cause)
        ? new SollolError({ status: 499, message: "request aborted" })
        : toSollolError(exit.cause)
    })

  return {
    chat: (request, options) => call("chat", "/api/chat", request, options),
    generate: (request, options) => call("generate", "/api/generate", request, options),
    embed: (request, options) => call("embed", "/api/embed", request, options),
    batchEmbed: (documents, options: BatchEmbedCallOptions): Promise<BatchEmbedResponse> => {
      const priority = parsePriority(options.priority)
      if (priority === null) return Promise.reject(new SollolError({ status: 400, message: "priority must be an integer between 1 and 10" }))
      return run(batchEmbed(documents, {
        model: options.model,
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
        extra: embedExtra(options)
      }), options.signal).then((r) => ({
        model: r.model,
        embeddings: r.embeddings,
        total_duration: r.totalDuration,
        load_duration: r.loadDuration,
        prompt_eval_count: r.promptEvalCount,
        _sollol_routing: { chunks_by_node: r.chunksByNode, docs_by_node: r.docsByNode, retries: r.retries }
      }))
    },
    stats: (): Promise<Stats> => run(statsOf),
    nodes: (): Promise<ReadonlyArray<NodeInfo>> => run(nodesOf),
    close: () => runtime.dispose()
  }
}
