/**
 * Probes a node through the Upstream seam: `/api/version` for liveness, `/api/tags` and `/api/ps` for the models
 * installed and loaded. The loops are scoped fibers on `Schedule.spaced`, so the node's scope ends them.
 */
import { Data, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import { normalizeModel } from "../domain/Model.js"
import type { Upstream } from "../domain/Upstream.js"

export class ProbeFailed extends Data.TaggedError("ProbeFailed")<{
  readonly path: string
  readonly reason: "Transport" | "Timeout" | "Status" | "Decode"
  readonly detail: string
}> {
  override get message() {
    return `probe ${this.path}: ${this.reason} (${this.detail})`
  }
}

export interface InstalledModel {
  /** Normalised (`normalizeModel`). */
  readonly name: string
  readonly digest: string
  readonly size: number
}

export interface LoadedModel {
  /** Normalised (`normalizeModel`). */
  readonly name: string
  /** Bytes the loaded model takes (`size`); 0 when the node does not say. */
  readonly size: number
  /** Bytes of it in GPU memory (`size_vram`): 0 of a non-zero `size` means it runs on the CPU. */
  readonly sizeVram: number
  readonly expiresAt: string
  /** The runner's context length, when the node reports it. */
  readonly contextLength: number | undefined
}

export interface ModelsSnapshot {
  readonly installed: ReadonlyArray<InstalledModel>
  readonly loaded: ReadonlyArray<LoadedModel>
}

/** GETs `path` and parses the JSON body; the whole exchange is bounded by `timeout`. */
export const getJson = (upstream: Upstream, path: string, timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    let status = 0
    yield* upstream.send({ method: "GET", path, headers: { accept: "application/json" }, body: undefined }, (head) => {
      status = head.status
      return { write: (chunk) => void chunks.push(chunk) }
    }).pipe(Effect.mapError((e) => new ProbeFailed({ path, reason: "Transport", detail: e.message })))
    const text = Buffer.concat(chunks).toString("utf8")
    if (status < 200 || status >= 300) {
      return yield* new ProbeFailed({ path, reason: "Status", detail: `${status} ${text.slice(0, 200)}` })
    }
    return yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => new ProbeFailed({ path, reason: "Decode", detail: "invalid JSON" })
    })
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new ProbeFailed({ path, reason: "Timeout", detail: Duration.format(timeout) })
    })
  )

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? value as Record<string, unknown> : {}

const modelsOf = (path: string, body: unknown) => {
  const models = record(body)["models"]
  return Array.isArray(models)
    ? Effect.succeed(models.map(record).filter((m) => typeof (m["name"] ?? m["model"]) === "string"))
    : Effect.fail(new ProbeFailed({ path, reason: "Decode", detail: "no models array" }))
}

const str = (v: unknown) => typeof v === "string" ? v : ""
const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) ? v : 0

/** `GET /api/version`: succeeds when the node answers 2xx with JSON. */
export const probeLiveness = (upstream: Upstream, timeout: Duration.DurationInput) =>
  Effect.asVoid(getJson(upstream, "/api/version", timeout))

/** `GET /api/tags` and `GET /api/ps`, in parallel; fails if either does. */
export const probeModels = (
  upstream: Upstream,
  timeout: Duration.DurationInput
): Effect.Effect<ModelsSnapshot, ProbeFailed> =>
  Effect.all({
    installed: Effect.flatMap(getJson(upstream, "/api/tags", timeout), (b) => modelsOf("/api/tags", b)).pipe(
      Effect.map((ms) =>
        ms.map((m): InstalledModel => ({
          name: normalizeModel(str(m["name"] ?? m["model"])),
          digest: str(m["digest"]),
          size: num(m["size"])
        }))
      )
    ),
    loaded: Effect.flatMap(getJson(upstream, "/api/ps", timeout), (b) => modelsOf("/api/ps", b)).pipe(
      Effect.map((ms) =>
        ms.map((m): LoadedModel => ({
          name: normalizeModel(str(m["name"] ?? m["model"])),
          size: num(m["size"]),
          sizeVram: num(m["size_vram"]),
          expiresAt: str(m["expires_at"]),
          contextLength: typeof m["context_length"] === "number" ? m["context_length"] : undefined
        }))
      )
    )
  }, { concurrency: 2 })

/**
 * Forks `once` into the current scope, repeated every `interval` after a first wait of `interval`
 * (the caller runs the first probe itself). A failure is handled by `once`; the loop never dies.
 */
export const forkEvery = (
  once: Effect.Effect<void>,
  interval: Duration.DurationInput
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(Effect.schedule(once, Schedule.spaced(interval))))
