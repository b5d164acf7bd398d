/**
 * Unloading a model (`keep_alive: 0` with no prompt or messages) is not routed: the gateway sends it to every
 * routable node that has the model, as Open WebUI does in front of several Ollama servers (ollama-api.md §2), so
 * no node keeps a runner the client asked to drop. It takes no slot: Ollama answers it at once, whether the model
 * was loaded or not. The client gets the first confirming node's answer (in the registry's order) with every node
 * that confirmed in `X-SOLLOL-Node`; when none confirmed, the first node's own answer, or its transport error.
 */
import { Effect, Option } from "effect"
import type { NodeHandle } from "../actors/NodeRegistry.js"
import { beginRequest } from "../actors/NodeRegistry.js"
import type { Candidate } from "../domain/Candidate.js"
import { simplePick } from "../domain/Decision.js"
import { unservableError, UpstreamError } from "../domain/errors.js"
import type { RoutingIntent } from "../domain/Request.js"
import type { UpstreamHead } from "../domain/Upstream.js"
import type { ClientSink } from "./ClientSink.js"
import type { AttemptContext } from "./dispatch.js"
import { routingHeaders, routingInfo } from "./progress.js"
import type { AttemptFailure, Progress } from "./progress.js"
import { makeCollector, responseHeaders, withRoutingInfo } from "./respond.js"
import { makeActivity, timeoutClassOf, withTimeouts } from "./timeouts.js"

/** One node's answer to the unload: its head and body, or why it gave none. */
type Answer =
  | { readonly _tag: "Answered"; readonly candidate: Candidate; readonly head: UpstreamHead; readonly body: Buffer }
  | { readonly _tag: "Failed"; readonly candidate: Candidate; readonly error: UpstreamError }

/** Sends the unload to one node, counted as a user of the model's runner that drops it (residency) while it runs. */
const askNode = (ctx: AttemptContext, intent: RoutingIntent, candidate: Candidate, handle: NodeHandle) =>
  Effect.acquireUseRelease(
    Effect.sync(() => beginRequest(handle, intent.model, true)),
    () => {
      const cls = timeoutClassOf(intent.kind)
      const limits = ctx.settings.timeouts[cls]
      const collector = makeCollector()
      let head: UpstreamHead | undefined
      const send = handle.upstream.send(intent.upstream, (h) => {
        head = h
        return collector.sink
      }, { firstByteTimeoutMs: limits.firstByteMs, idleTimeoutMs: limits.idleMs, totalTimeoutMs: limits.totalMs })
      const activity = makeActivity(ctx.scoring.clock.unsafeCurrentTimeMillis())
      return withTimeouts(send, handle.nodeId, activity, limits, cls, handle.upstream.enforcesTimeouts === true).pipe(
        Effect.map((): Answer =>
          head === undefined
            ? { _tag: "Failed", candidate, error: new UpstreamError({ nodeId: handle.nodeId, reason: "Transport", detail: "no response head" }) }
            : { _tag: "Answered", candidate, head, body: collector.bytes() }
        ),
        Effect.catchAll((error) =>
          Effect.as(handle.report({ ok: false, reason: error.message }), { _tag: "Failed", candidate, error } as Answer)
        )
      )
    },
    (end) => Effect.sync(end)
  )

const confirmed = (a: Answer): a is Extract<Answer, { _tag: "Answered" }> =>
  a._tag === "Answered" && a.head.status >= 200 && a.head.status < 300

/** Sends the answer `chosen` to the client, with `nodes` (those that confirmed) in `X-SOLLOL-Node`. */
const relay = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress,
  chosen: Extract<Answer, { _tag: "Answered" }>,
  nodes: ReadonlyArray<string>
) => {
  const { status } = chosen.head
  progress.status = status
  progress.committed = true
  const info = routingInfo(intent, progress, ctx.scoring.strategy.name, ctx.scoring.clock.unsafeCurrentTimeMillis() - intent.arrivedAt)
  // every node that confirmed, as X-SOLLOL-Node lists them (`node` is the one whose answer this is)
  const body = ctx.settings.includeRoutingInfo && status < 300 ? withRoutingInfo(chosen.body, { ...info, nodes }) : chosen.body
  const headers = responseHeaders(chosen.head, routingHeaders(intent, progress))
  if (nodes.length > 0) headers["x-sollol-node"] = nodes.join(",")
  headers["content-length"] = String(body.byteLength)
  client.start(status, headers)
  client.end(body)
  return true as const
}

/** The unload workflow step, in place of the attempts: every routable node that has the model, at once. */
export const unloadEverywhere = (
  ctx: AttemptContext,
  intent: RoutingIntent,
  client: ClientSink,
  progress: Progress
): Effect.Effect<true, AttemptFailure> =>
  Effect.suspend(() => {
    const { registry } = ctx.scoring
    const now = ctx.scoring.clock.unsafeCurrentTimeMillis()
    const { candidates, hasModel, routable, unlisted } = registry.candidatesNow(intent.model, intent.loadOptions, now)
    if (candidates.length === 0) return Effect.fail(unservableError(intent, { hasModel: hasModel.length, unlisted, routable }, false))
    const targets = candidates.flatMap((c) => Option.toArray(Option.map(registry.get(c.nodeId), (h) => [c, h] as const)))
    progress.attempts = targets.length
    return Effect.flatMap(
      Effect.forEach(targets, ([c, h]) => askNode(ctx, intent, c, h), { concurrency: "unbounded" }),
      (answers): Effect.Effect<true, AttemptFailure> => {
        const ok = answers.filter(confirmed)
        const chosen = ok[0] ?? answers.find((a) => a._tag === "Answered")
        const first = chosen ?? answers[0]!
        const nodes = ok.map((a) => a.candidate.nodeId)
        progress.node = first.candidate.nodeId
        const failed = answers.filter((a) => !confirmed(a)).map((a) => a.candidate.nodeId)
        progress.pick = simplePick(
          first.candidate,
          `unload (keep_alive 0): sent to every node that has the model; ${
            nodes.length > 0 ? `confirmed by ${nodes.join(", ")}` : "none confirmed"
          }${failed.length > 0 ? `; not by ${failed.join(", ")}` : ""}`
        )
        if (chosen !== undefined) return Effect.succeed(relay(ctx, intent, client, progress, chosen, nodes))
        return Effect.fail((first as Extract<Answer, { _tag: "Failed" }>).error)
      }
    )
  })
