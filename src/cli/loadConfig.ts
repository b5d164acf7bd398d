/**
 * Config for `sollol serve`: flags > env (`SOLLOL_*`) > config file (YAML or JSON) > defaults, validated by the
 * one schema in AppConfig.ts. Errors name the field and the source that set it.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { Either } from "effect"
import { decodeAppConfig } from "../AppConfig.js"
import type { AppConfig } from "../AppConfig.js"
import { builtinStrategies, strategyLayer } from "../strategies/catalog.js"
import type { StrategyCatalog } from "../strategies/catalog.js"
import { decimal } from "./usage.js"

export interface ServeFlags {
  readonly host?: string | undefined
  readonly port?: string | undefined
  readonly node?: ReadonlyArray<string> | undefined
  readonly strategy?: string | undefined
  readonly config?: string | undefined
}

type Raw = Record<string, unknown>

const isRecord = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v)

/** Deep merge of plain objects; arrays and scalars of `over` replace those of `base`. */
export const mergeConfig = (base: Raw, over: Raw): Raw => {
  const out: Raw = { ...base }
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue
    const prev = out[key]
    out[key] = isRecord(prev) && isRecord(value) ? mergeConfig(prev, value) : value
  }
  return out
}

const numberOr = (s: string): number | string => {
  const n = decimal(s.trim())
  return Number.isNaN(n) ? s : n
}

const nodesFrom = (list: string): Array<Raw> =>
  list.split(",").map((s) => s.trim()).filter((s) => s !== "").map((url) => ({ url }))

/** `SOLLOL_NODES`, `SOLLOL_HOST`, `SOLLOL_PORT`, `SOLLOL_STRATEGY`, `SOLLOL_DB`, `SOLLOL_LOG_LEVEL`, `SOLLOL_AUTH`. */
export const fromEnv = (env: NodeJS.ProcessEnv): Raw => {
  const out: Raw = {}
  if (env.SOLLOL_NODES !== undefined && env.SOLLOL_NODES !== "") out.nodes = nodesFrom(env.SOLLOL_NODES)
  if (env.SOLLOL_HOST !== undefined) out.host = env.SOLLOL_HOST
  if (env.SOLLOL_PORT !== undefined) out.port = numberOr(env.SOLLOL_PORT)
  if (env.SOLLOL_STRATEGY !== undefined) out.strategy = env.SOLLOL_STRATEGY
  if (env.SOLLOL_DB !== undefined) out.database = env.SOLLOL_DB
  if (env.SOLLOL_LOG_LEVEL !== undefined) out.logLevel = env.SOLLOL_LOG_LEVEL
  if (env.SOLLOL_AUTH !== undefined) out.auth = { mode: env.SOLLOL_AUTH }
  return out
}

export const fromFlags = (flags: ServeFlags): Raw => {
  const out: Raw = {}
  if (flags.host !== undefined) out.host = flags.host
  if (flags.port !== undefined) out.port = numberOr(flags.port)
  if (flags.strategy !== undefined) out.strategy = flags.strategy
  if (flags.node !== undefined && flags.node.length > 0) out.nodes = flags.node.flatMap(nodesFrom)
  return out
}

/** The YAML parser, loaded on the first YAML file: most starts (the demo, env-only serves) never need it. */
const parseYaml = (text: string): unknown =>
  (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(text)

export const readConfigFile = (path: string): Either.Either<Raw, string> => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    return Either.left(`cannot read config file ${path}: ${(error as Error).message}`)
  }
  try {
    const parsed: unknown = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text)
    if (parsed === null || parsed === undefined) return Either.right({})
    return isRecord(parsed) ? Either.right(parsed) : Either.left(`config file ${path}: expected a mapping at the top level`)
  } catch (error) {
    return Either.left(`config file ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`)
  }
}

/**
 * Validates merged settings: the schema, and the strategy name against `strategies`, which must be the catalog
 * the gateway will be started with (the CLI starts it with the built-ins; custom strategies exist only through the
 * library's `strategies` option). Every problem is reported, each as `field: problem`, joined by `; `.
 */
export const validateConfig = (
  raw: Readonly<Record<string, unknown>>,
  strategies: StrategyCatalog = builtinStrategies
): Either.Either<AppConfig, string> => {
  const name = raw.strategy
  const unknownStrategy = typeof name === "string" && Either.isLeft(strategyLayer(name, strategies))
    ? `strategy: unknown strategy '${name}' (known: ${Object.keys(strategies).join(", ")})`
    : undefined
  const decoded = decodeAppConfig(raw)
  const problems = [Either.isLeft(decoded) ? decoded.left : undefined, unknownStrategy].filter((p) => p !== undefined)
  return problems.length === 0 ? decoded : Either.left(problems.join("; "))
}

/** Merges the sources and validates; with no node anywhere, the local Ollama default is used. */
export const loadConfig = (
  flags: ServeFlags,
  env: NodeJS.ProcessEnv,
  strategies: StrategyCatalog = builtinStrategies
): Either.Either<AppConfig, string> => {
  const path = flags.config ?? env.SOLLOL_CONFIG
  const file: Either.Either<Raw, string> = path === undefined ? Either.right({}) : readConfigFile(path)
  if (Either.isLeft(file)) return Either.left(file.left)
  const merged = mergeConfig(mergeConfig(file.right, fromEnv(env)), fromFlags(flags))
  // none anywhere (absent, `nodes:` left empty, or []): the local Ollama; anything else is validated as written
  const none = merged.nodes === undefined || merged.nodes === null || (Array.isArray(merged.nodes) && merged.nodes.length === 0)
  if (none) merged.nodes = [{ url: "http://127.0.0.1:11434" }]
  return validateConfig(merged, strategies)
}
