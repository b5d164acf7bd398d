/**
 * Every setting of the gateway and the embedded runtime, validated with effect/Schema. Sources merge as
 * flags > env (`SOLLOL_*`) > config file (YAML or JSON) > defaults; a bad value stops startup with a message
 * that names the field.
 */
import { Context, Either, ParseResult, Schema } from "effect"
import { SollolConfigSchema } from "./strategies/sollol/config.js"
import { nodeIdFromUrl } from "./domain/NodeId.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())

/** Per-route-class overrides of the attempt time limits, ms. */
const ClassTimeouts = Schema.Struct({
  /** Time to first byte. */
  firstByteMs: Schema.optional(PositiveInt),
  /** Longest silence between chunks. */
  idleMs: Schema.optional(PositiveInt),
  /** Whole attempt. */
  totalMs: Schema.optional(PositiveInt)
})

/** An http(s) base URL the gateway can send to as it is: no query, fragment or user info for it to drop. */
export const isNodeUrl = (s: string): boolean => {
  if (!URL.canParse(s)) return false
  const u = new URL(s)
  return (u.protocol === "http:" || u.protocol === "https:") && u.search === "" && u.hash === "" && u.username === "" &&
    u.password === ""
}

export const NodeConfig = Schema.Struct({
  /** Base URL, e.g. `http://gpu-1:11434`; a path (`https://proxy/ollama`) prefixes every request to the node. */
  url: Schema.String.pipe(Schema.filter(isNodeUrl, { message: () => "must be an http(s) URL without query, fragment or credentials" })),
  /** Node id shown in headers and logs. Default: `host:port` of the URL. */
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** Parallel slots (like OLLAMA_NUM_PARALLEL). Default: learned, starting at `routing.defaultSlots`. */
  slots: Schema.optional(PositiveInt)
})
export type NodeConfig = typeof NodeConfig.Type

export const AppConfigSchema = Schema.Struct({
  /** Listen address. Default 127.0.0.1. */
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  /** Listen port. Default 8000. */
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 8000 }),
  /** Ollama nodes. Default: none (the CLI then tries http://127.0.0.1:11434). */
  nodes: Schema.optionalWith(Schema.Array(NodeConfig), { default: () => [] }),
  /** Routing strategy name. Default `sollol`. */
  strategy: Schema.optionalWith(Schema.String, { default: () => "sollol" }),
  /** The `sollol` strategy's scorer weights and constants (see strategies/sollol/config.ts). Default: none changed. */
  sollol: Schema.optionalWith(SollolConfigSchema, { default: () => ({}) }),
  routing: Schema.Struct({
    /** Attempts per request, first included. Default 3. */
    maxAttempts: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10)), { default: () => 3 }),
    /** Base of the exponential backoff between attempts, in ms (with full jitter). Default 25. */
    retryBackoffMs: Schema.optionalWith(NonNegative, { default: () => 25 }),
    /** Retries allowed as a fraction of recent requests. Default 0.2. */
    retryBudgetRatio: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.2 }),
    /** Retries always allowed per second on top of the ratio. Default 10. */
    retryBudgetMinPerSecond: Schema.optionalWith(NonNegative, { default: () => 10 }),
    /** Slots assumed for a node before any are learned. Default 4. */
    defaultSlots: Schema.optionalWith(PositiveInt, { default: () => 4 }),
    /** When every node is excluded: fail fast (false) or try the least-recently-failed node. Default false. */
    panicMode: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    /** Add `_sollol_routing` to non-streaming JSON responses. Default true. */
    includeRoutingInfo: Schema.optionalWith(Schema.Boolean, { default: () => true }),
    /** Hedge non-streaming requests after the observed p95. Default false. */
    hedging: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    /** Latency samples per (model, kind) before hedging starts. Default 20. */
    hedgeMinSamples: Schema.optionalWith(PositiveInt, { default: () => 20 }),
    /** Consecutive "cannot load this model" failures that exclude a node for that model only. Default 2. */
    modelFailureThreshold: Schema.optionalWith(PositiveInt, { default: () => 2 }),
    /** How long a node stays excluded for a model it could not load, ms (doubles per re-opening, up to 8×). Default 60 000. */
    modelCooldownMs: Schema.optionalWith(PositiveInt, { default: () => 60_000 }),
    /** How long a node that answered 503 "server busy" is treated as saturated, ms. Default 1 000. */
    busyBackoffMs: Schema.optionalWith(NonNegative, { default: () => 1_000 })
  }),
  timeouts: Schema.Struct({
    /** TCP connect, ms. Default 5 000. */
    connectMs: Schema.optionalWith(PositiveInt, { default: () => 5_000 }),
    /** Time to first byte, ms; generous because a cold load can take long. Default 300 000. */
    firstByteMs: Schema.optionalWith(PositiveInt, { default: () => 300_000 }),
    /** Longest silence between chunks, ms. Default 120 000. */
    idleMs: Schema.optionalWith(PositiveInt, { default: () => 120_000 }),
    /** Whole request, ms. Default 900 000. */
    totalMs: Schema.optionalWith(PositiveInt, { default: () => 900_000 }),
    /** Embedding routes (`/api/embed`, `/api/embeddings`, `/v1/embeddings`); unset fields use the values above. */
    embedding: Schema.optionalWith(ClassTimeouts, { default: () => ({}) }),
    /** `/api/show`; unset fields: first byte and idle 30 000, total 60 000. */
    show: Schema.optionalWith(ClassTimeouts, { default: () => ({}) })
  }),
  queue: Schema.Struct({
    /** Most requests waiting for a slot. Default 1 000. */
    maxSize: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1_000 }),
    /** Waiting this long raises effective priority by one level, ms. Default 5 000. */
    agingIntervalMs: Schema.optionalWith(PositiveInt, { default: () => 5_000 }),
    /** Longest a request waits in the queue (all its attempts together) before a 503, ms. Default 120 000. */
    maxWaitMs: Schema.optionalWith(PositiveInt, { default: () => 120_000 })
  }),
  health: Schema.Struct({
    /** Liveness probe period, ms. Default 5 000. */
    probeIntervalMs: Schema.optionalWith(PositiveInt, { default: () => 5_000 }),
    /** Models (`/api/tags`, `/api/ps`) refresh period, ms. Default 15 000. */
    modelsIntervalMs: Schema.optionalWith(PositiveInt, { default: () => 15_000 }),
    /** Probe timeout, ms. Default 2 000. */
    probeTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 2_000 }),
    /** Consecutive failures that exclude a node. Default 3. */
    failureThreshold: Schema.optionalWith(PositiveInt, { default: () => 3 }),
    /** First exclusion cooldown, ms; doubles per ejection. Default 5 000. */
    baseCooldownMs: Schema.optionalWith(PositiveInt, { default: () => 5_000 }),
    /** Cooldown ceiling, ms. Default 300 000. */
    maxCooldownMs: Schema.optionalWith(PositiveInt, { default: () => 300_000 })
  }),
  limits: Schema.Struct({
    /** Largest request body, bytes. Default 32 MiB. */
    maxBodyBytes: Schema.optionalWith(PositiveInt, { default: () => 32 * 1024 * 1024 }),
    /** Drain deadline on shutdown, ms. Default 30 000. */
    shutdownGraceMs: Schema.optionalWith(NonNegative, { default: () => 30_000 }),
    /**
     * While listening on loopback, requests must name a local host (DNS-rebinding protection, as Ollama's); these
     * names are accepted too, e.g. a reverse proxy's public name; `*` accepts any. Default none.
     */
    allowedHosts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
    /**
     * Browser origins allowed besides the local ones (Ollama's OLLAMA_ORIGINS), e.g. `https://chat.example.com`,
     * `https://*.example.com`; `*` allows any. Other origins get 403. Default none.
     */
    allowedOrigins: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
  }),
  auth: Schema.Struct({
    /** `auto`: on as soon as a key exists; `required`: always on; `off`: never. Default auto. */
    mode: Schema.optionalWith(Schema.Literal("auto", "required", "off"), { default: () => "auto" as const })
  }),
  /** SQLite file for keys and learned stats; `:memory:` keeps nothing. Default `./sollol.db`. */
  database: Schema.optionalWith(Schema.String, { default: () => "./sollol.db" }),
  /** Log level: debug, info, warn, error, none. Default info. */
  logLevel: Schema.optionalWith(Schema.Literal("debug", "info", "warn", "error", "none"), {
    default: () => "info" as const
  })
})

export type AppConfig = typeof AppConfigSchema.Type
type Sections = "routing" | "timeouts" | "queue" | "health" | "limits" | "auth"

/** What a caller writes: every section optional (a missing one takes its defaults). */
export type AppConfigInput =
  & Omit<typeof AppConfigSchema.Encoded, Sections>
  & Partial<Pick<typeof AppConfigSchema.Encoded, Sections>>

export class AppConfigTag extends Context.Tag("sollol/AppConfig")<AppConfigTag, AppConfig>() {}

const sections = ["routing", "timeouts", "queue", "health", "limits", "auth"] as const

/** Missing sections decode as empty ones, so their fields take their defaults. */
const withSections = (input: unknown): unknown => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input
  const filled: Record<string, unknown> = { ...input }
  for (const key of sections) if (filled[key] === undefined) filled[key] = {}
  return filled
}

/** Validates raw input (from a file, env and flags merged); the error message names the offending field. */
export const decodeAppConfig = (input: unknown): Either.Either<AppConfig, string> =>
  Schema.decodeUnknownEither(AppConfigSchema, { errors: "all", onExcessProperty: "error" })(withSections(input)).pipe(
    Either.mapLeft((error) => ParseResult.ArrayFormatter.formatErrorSync(error)
      .filter((issue) => !issue.message.startsWith("Expected undefined"))
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "config"}: ${issue.message}`)
      .join("; ")),
    Either.flatMap((config) => {
      const duplicate = duplicateNode(config)
      return duplicate === undefined ? Either.right(config) : Either.left(duplicate)
    })
  )

/** Two nodes with one id (a name, else `host:port`) would be one node: the second is named as the culprit. */
const duplicateNode = (config: AppConfig): string | undefined => {
  const seen = new Map<string, number>()
  for (const [i, node] of config.nodes.entries()) {
    const id = node.name ?? nodeIdFromUrl(node.url)
    const first = seen.get(id)
    if (first !== undefined) {
      return `nodes.${i}: node '${id}' is configured twice (as nodes.${first} too); give each node its own name`
    }
    seen.set(id, i)
  }
  return undefined
}

/** Decodes and throws with the field-naming message; for tests and the library API. */
export const makeAppConfig = (input: AppConfigInput | Record<string, unknown> = {}): AppConfig => {
  const result = decodeAppConfig(input)
  if (Either.isLeft(result)) throw new Error(`invalid config: ${result.left}`)
  return result.right
}
