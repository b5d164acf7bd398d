/** `sollol keys create|list|revoke`: API-key administration straight on the SQLite file the gateway uses. */
import { parseArgs } from "node:util"
import { Clock, Data, Effect, Either, Layer } from "effect"
import * as ApiKeys from "../runtime/ApiKeys.js"
import type { CreateKeyInput, KeyRecord } from "../runtime/ApiKeys.js"
import * as Store from "../runtime/Store.js"
import { argvMessage, usageErrorText, wantsHelp } from "./usage.js"

export interface KeysIo {
  /** Normal output, one line per call. Default: `console.log`. */
  readonly print: (line: string) => void
  /** Errors and warnings. Default: `console.error`. */
  readonly printError: (line: string) => void
  /** Where `SOLLOL_DB` is read. Default: `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>
}

const USAGE = [
  "usage:",
  "  sollol keys create --name N --role admin|user|batch|readonly [--permissions a,b] [--rpm N] [--tpm N]",
  "                     [--max-priority 1-10] [--models a,b] [--expires 30d|12h|90m] [--db FILE]",
  "  sollol keys list [--db FILE] [--json]",
  "  sollol keys revoke ID|NAME|PREFIX [--db FILE]",
  "  sollol keys [COMMAND] --help | -h",
  "The database is --db, else $SOLLOL_DB, else ./sollol.db."
].join("\n")

/** The command line itself is wrong: exit code 2. */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** `30d` → 30 days in ms (the key store's own parser). */
export const parseDuration = ApiKeys.parseDuration

const integer = (flag: string, text: string | undefined): Either.Either<number | undefined, UsageError> =>
  text === undefined ? Either.right(undefined) : /^\d+$/.test(text.trim())
  ? Either.right(Number(text))
  : Either.left(new UsageError({ message: `--${flag} must be a whole number, got '${text}'` }))

const list = (text: string | undefined): ReadonlyArray<string> | undefined =>
  text?.split(",").map((s) => s.trim()).filter((s) => s !== "")

const createInput = Effect.fn("keys.createInput")(function*(values: Record<string, string | boolean | undefined>) {
  const str = (k: string) => (typeof values[k] === "string" ? values[k] : undefined)
  const usage = (message: string) => new UsageError({ message })
  const name = str("name")
  const role = str("role")
  if (name === undefined) return yield* usage("--name is required")
  if (role === undefined || !ApiKeys.isRole(role)) {
    return yield* usage(`--role must be one of ${ApiKeys.roles.join(", ")}`)
  }
  const perms = list(str("permissions")) ?? []
  const unknown = perms.filter((p) => !ApiKeys.isPermission(p))
  if (unknown.length > 0) {
    return yield* usage(`unknown permission(s) ${unknown.join(", ")}; known: ${ApiKeys.permissions.join(", ")}`)
  }
  const expires = str("expires")
  const expiresInMs = expires === undefined ? undefined : parseDuration(expires)
  if (expires !== undefined && expiresInMs === undefined) {
    return yield* usage(`--expires must look like 30d, 12h, 90m, 45s or 2w, got '${expires}'`)
  }
  const input: CreateKeyInput = {
    name,
    role,
    permissions: perms.filter(ApiKeys.isPermission),
    rpm: yield* integer("rpm", str("rpm")),
    tpm: yield* integer("tpm", str("tpm")),
    maxPriority: yield* integer("max-priority", str("max-priority")),
    models: list(str("models")),
    expiresInMs
  }
  return input
})

const iso = (ms: number | undefined): string => (ms === undefined ? "never" : new Date(ms).toISOString())

/** A plain aligned table: name, prefix, role, limits, expiry, revoked, last used. */
export const formatTable = (records: ReadonlyArray<KeyRecord>, now: number): ReadonlyArray<string> => {
  const header = ["NAME", "PREFIX", "ROLE", "LIMITS", "EXPIRES", "REVOKED", "LAST USED"]
  const rows = records.map((r) => [
    r.name,
    r.prefix,
    r.role,
    [
      r.rpm === undefined ? undefined : `rpm ${r.rpm}`,
      r.tpm === undefined ? undefined : `tpm ${r.tpm}`,
      r.maxPriority === undefined ? undefined : `max-priority ${r.maxPriority}`,
      r.models === undefined ? undefined : `models ${r.models.join(",")}`
    ].filter((s) => s !== undefined).join(" · ") || "-",
    r.expiresAt !== undefined && r.expiresAt <= now ? `expired ${iso(r.expiresAt)}` : iso(r.expiresAt),
    r.revoked ? "yes" : "no",
    iso(r.lastUsedAt)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)))
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd())
}

const OPTIONS = {
  name: { type: "string" },
  role: { type: "string" },
  permissions: { type: "string" },
  rpm: { type: "string" },
  tpm: { type: "string" },
  "max-priority": { type: "string" },
  models: { type: "string" },
  expires: { type: "string" },
  db: { type: "string" },
  json: { type: "boolean" }
} as const

const ALLOWED: Readonly<Record<string, ReadonlyArray<string>>> = {
  create: ["name", "role", "permissions", "rpm", "tpm", "max-priority", "models", "expires", "db"],
  list: ["db", "json"],
  revoke: ["db"]
}

const parse = (rest: ReadonlyArray<string>) =>
  Effect.try({
    try: () => parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: true }),
    catch: (cause) => new UsageError({ message: argvMessage(cause) })
  })

const program = (command: string, rest: ReadonlyArray<string>, io: KeysIo) =>
  Effect.gen(function*() {
    const allowed = ALLOWED[command]
    if (allowed === undefined) return yield* new UsageError({ message: `unknown command '${command}'` })
    if (wantsHelp(rest, OPTIONS)) return io.print(USAGE)
    const { values, positionals } = yield* parse(rest)
    const extra = Object.keys(values).filter((k) => !allowed.includes(k))
    if (extra.length > 0) {
      return yield* new UsageError({ message: `'${command}' does not take --${extra.join(", --")}` })
    }
    if (command !== "revoke" && positionals.length > 0) {
      return yield* new UsageError({ message: `unexpected argument '${positionals[0]}'` })
    }
    if (command === "revoke" && positionals.length !== 1) {
      return yield* new UsageError({ message: "revoke takes exactly one ID, NAME or PREFIX" })
    }
    const input = command === "create" ? yield* createInput(values) : undefined
    const db = values.db ?? io.env["SOLLOL_DB"] ?? "./sollol.db"
    return yield* Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      if (input !== undefined) {
        const { key, record } = yield* keys.create(input)
        io.print(`Created key '${record.name}' (id ${record.id}, role ${record.role}, prefix ${record.prefix}).`)
        io.print(key)
        io.printError("Store this key now: it is shown only once and cannot be recovered.")
      } else if (command === "list") {
        const records = yield* keys.list
        const now = yield* Clock.currentTimeMillis
        if (values.json === true) io.print(JSON.stringify(records, null, 2))
        else if (records.length === 0) io.print("no keys")
        else formatTable(records, now).forEach((line) => io.print(line))
      } else {
        const record = yield* keys.revoke(positionals[0] ?? "")
        io.print(`Revoked key '${record.name}' (id ${record.id}, prefix ${record.prefix}).`)
      }
    }).pipe(Effect.provide(ApiKeys.layer.pipe(Layer.provide(Store.layer(db)))))
  })

/** Runs `sollol keys …` (argv without `keys`); resolves to the exit code: 0 ok, 1 failed, 2 bad usage. */
export const keysMain = async (argv: ReadonlyArray<string>, io: Partial<KeysIo> = {}): Promise<number> => {
  const full: KeysIo = {
    print: io.print ?? ((line: string) => console.log(line)),
    printError: io.printError ?? ((line: string) => console.error(line)),
    env: io.env ?? process.env
  }
  const [command, ...rest] = argv
  if (command === "--help" || command === "-h" || command === "help") {
    full.print(USAGE)
    return 0
  }
  if (command === undefined) {
    full.printError(usageErrorText("keys", "a command is required: create, list or revoke", USAGE))
    return 2
  }
  const result = await Effect.runPromise(Effect.either(program(command, rest, full)))
  if (Either.isRight(result)) return 0
  const error = result.left
  if (error._tag === "UsageError") {
    full.printError(usageErrorText("keys", error.message, USAGE))
    return 2
  }
  full.printError(`sollol keys: ${error.message}`)
  return error._tag === "KeyAdminError" && error.reason === "InvalidInput" ? 2 : 1
}
