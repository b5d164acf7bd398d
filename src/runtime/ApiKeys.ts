/**
 * API keys: random tokens shown once, stored as SHA-256 hashes, each with a role, limits, a priority ceiling and a
 * model allow-list. Errors and listings name a key by its name or prefix only, never by its material.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { Array as Arr, Clock, Context, Data, Effect, Layer, Option } from "effect"
import { AuthError } from "../domain/errors.js"
import { normalizeModel } from "../domain/Model.js"
import { MAX_PRIORITY, MIN_PRIORITY } from "../domain/Priority.js"
import type { Priority } from "../domain/Priority.js"
import { Store } from "./Store.js"
import type { KeyRow, StoreError } from "./Store.js"

export const permissions = ["chat", "generate", "embed", "batch", "models", "stats", "admin"] as const
export type Permission = (typeof permissions)[number]

export const roles = ["admin", "user", "batch", "readonly"] as const
export type Role = (typeof roles)[number]

/** What each role grants; a key's explicit `permissions` are added to its role's. */
export const rolePermissions: Readonly<Record<Role, ReadonlyArray<Permission>>> = {
  admin: permissions,
  user: ["chat", "generate", "embed", "models"],
  batch: ["embed", "batch", "models"],
  readonly: ["models", "stats"]
}

export const isPermission = (s: string): s is Permission => (permissions as ReadonlyArray<string>).includes(s)
export const isRole = (s: string): s is Role => (roles as ReadonlyArray<string>).includes(s)

export const TOKEN_PREFIX = "sk-sollol-"
/** Characters of a token kept (and shown) to recognise it: `sk-sollol-` plus four random ones. */
export const PREFIX_LENGTH = 14

/** A key as everyone but its creator sees it: no token, no hash. */
export interface KeyRecord {
  readonly id: string
  readonly name: string
  /** The token's first 14 characters followed by `…`. */
  readonly prefix: string
  readonly role: Role
  /** Effective permissions: the role's plus any explicit ones. */
  readonly permissions: ReadonlyArray<Permission>
  /** Requests per minute; absent = unlimited. */
  readonly rpm: number | undefined
  /** Tokens per minute (prompt + output); absent = unlimited. */
  readonly tpm: number | undefined
  /** Highest priority the key may ask for; absent = MAX_PRIORITY. */
  readonly maxPriority: Priority | undefined
  /** Normalised model names the key may use; absent = every model. */
  readonly models: ReadonlyArray<string> | undefined
  readonly expiresAt: number | undefined
  readonly revoked: boolean
  readonly createdAt: number
  readonly lastUsedAt: number | undefined
}

export interface CreateKeyInput {
  readonly name: string
  readonly role: Role
  /** Added to the role's permissions. Default: none. */
  readonly permissions?: ReadonlyArray<Permission> | undefined
  /** Requests per minute. Default: unlimited. */
  readonly rpm?: number | undefined
  /** Tokens per minute. Default: unlimited. */
  readonly tpm?: number | undefined
  /** Priority ceiling, 1–10. Default: none (10). */
  readonly maxPriority?: number | undefined
  /** Allowed models. Default: every model. */
  readonly models?: ReadonlyArray<string> | undefined
  /** Lifetime from now. Default: never expires. */
  readonly expiresInMs?: number | undefined
}

/** An administrative request that cannot be carried out. */
export class KeyAdminError extends Data.TaggedError("KeyAdminError")<{
  readonly reason: "InvalidInput" | "NotFound" | "Ambiguous"
  readonly message: string
}> {}

export interface ApiKeysService {
  /** Creates a key. `key` is the raw token: it is returned here and never again. */
  readonly create: (
    input: CreateKeyInput
  ) => Effect.Effect<{ readonly key: string; readonly record: KeyRecord }, KeyAdminError | StoreError>
  /** Every key, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<KeyRecord>, StoreError>
  /** Revokes by id (any key), or by name or prefix (among keys not yet revoked; must match exactly one). */
  readonly revoke: (idOrNameOrPrefix: string) => Effect.Effect<KeyRecord, KeyAdminError | StoreError>
  /** Keys ever created (revoked and expired included), so revoking every key does not switch auth off. */
  readonly count: Effect.Effect<number, StoreError>
  /**
   * Missing → `Missing`; unknown, revoked or expired → `Invalid`. Records `last_used_at` (at most once a second per
   * key, to keep writes off the hot path). A failing database is a defect here.
   */
  readonly authenticate: (rawToken: string | undefined) => Effect.Effect<KeyRecord, AuthError>
  /** `Forbidden` when the key lacks `permission`, or when `model` is outside its allow-list. */
  readonly authorize: (record: KeyRecord, permission: Permission, model?: string) => Effect.Effect<void, AuthError>
}

export class ApiKeys extends Context.Tag("sollol/ApiKeys")<ApiKeys, ApiKeysService>() {}

/** Whether the key may use `model` (compared normalised). */
export const allowsModel = (record: KeyRecord, model: string): boolean =>
  record.models === undefined || record.models.includes(normalizeModel(model))

/**
 * A priority above the key's ceiling is lowered to the ceiling, not rejected: clients that always send the same
 * priority keep working, they just do not jump ahead of work the operator ranked higher.
 */
export const clampPriority = (record: KeyRecord, priority: Priority): Priority =>
  Math.min(priority, record.maxPriority ?? MAX_PRIORITY)

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A key lifetime such as `30d` in ms (units s, m, h, d, w); `undefined` when malformed. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+)([smhdw])$/.exec(text.trim())
  const unit = match?.[2] === undefined ? undefined : UNIT_MS[match[2]]
  return match?.[1] === undefined || unit === undefined ? undefined : Number(match[1]) * unit
}

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

const displayPrefix = (stored: string): string => `${stored}…`

const toRecord = (row: KeyRow): KeyRecord => ({
  id: row.id,
  name: row.name,
  prefix: displayPrefix(row.prefix),
  role: isRole(row.role) ? row.role : "readonly",
  permissions: row.permissions.filter(isPermission),
  rpm: row.rpm ?? undefined,
  tpm: row.tpm ?? undefined,
  maxPriority: row.maxPriority ?? undefined,
  models: row.models ?? undefined,
  expiresAt: row.expiresAt ?? undefined,
  revoked: row.revoked,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt ?? undefined
})

const invalid = (message: string) => new KeyAdminError({ reason: "InvalidInput", message })

const positiveInt = (field: string, n: number | undefined): Effect.Effect<number | null, KeyAdminError> =>
  n === undefined ? Effect.succeed(null) : Number.isSafeInteger(n) && n > 0
  ? Effect.succeed(n)
  : Effect.fail(invalid(`${field} must be a positive integer`))

const validate = Effect.fn("ApiKeys.validate")(function*(input: CreateKeyInput) {
  const name = input.name.trim()
  if (name === "" || name.length > 100) return yield* invalid("name must be 1–100 characters")
  if (name.startsWith(TOKEN_PREFIX)) return yield* invalid(`name must not start with ${TOKEN_PREFIX}`)
  if (!isRole(input.role)) return yield* invalid(`role must be one of ${roles.join(", ")}`)
  const extra = input.permissions ?? []
  const unknown = extra.filter((p) => !isPermission(p))
  if (unknown.length > 0) return yield* invalid(`unknown permission(s): ${unknown.join(", ")}`)
  const maxPriority = input.maxPriority
  if (
    maxPriority !== undefined &&
    !(Number.isInteger(maxPriority) && maxPriority >= MIN_PRIORITY && maxPriority <= MAX_PRIORITY)
  ) return yield* invalid(`max priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`)
  const models = input.models?.map((m) => m.trim()).filter((m) => m !== "")
  if (input.models !== undefined && (models === undefined || models.length === 0)) {
    return yield* invalid("models must list at least one model")
  }
  return {
    name,
    role: input.role,
    permissions: permissions.filter((p) => rolePermissions[input.role].includes(p) || extra.includes(p)),
    rpm: yield* positiveInt("rpm", input.rpm),
    tpm: yield* positiveInt("tpm", input.tpm),
    maxPriority: maxPriority ?? null,
    models: models === undefined ? null : Arr.dedupe(models.map(normalizeModel)),
    expiresInMs: yield* positiveInt("expiry", input.expiresInMs)
  }
})

/** Finds the one key `ref` names: an id (any key), else a name or prefix among keys not yet revoked. */
const resolve = (rows: ReadonlyArray<KeyRow>, ref: string): Effect.Effect<KeyRow, KeyAdminError> => {
  const byId = rows.find((r) => r.id === ref)
  if (byId !== undefined) return Effect.succeed(byId)
  const stem = ref.endsWith("…") ? ref.slice(0, -1) : ref
  const active = rows.filter((r) => !r.revoked)
  const named = active.filter((r) => r.name === ref)
  const matches = named.length > 0 ? named : stem.length >= TOKEN_PREFIX.length + 1
    ? active.filter((r) => r.prefix.startsWith(stem))
    : []
  if (matches.length === 1 && matches[0] !== undefined) return Effect.succeed(matches[0])
  return Effect.fail(
    matches.length === 0
      ? new KeyAdminError({ reason: "NotFound", message: `no active key matches '${ref}'` })
      : new KeyAdminError({ reason: "Ambiguous", message: `${matches.length} keys match '${ref}': use the id` })
  )
}

const TOUCH_INTERVAL_MS = 1000

export const make: Effect.Effect<ApiKeysService, never, Store> = Effect.gen(function*() {
  const store = yield* Store

  const create = Effect.fn("ApiKeys.create")(function*(input: CreateKeyInput) {
    const valid = yield* validate(input)
    const now = yield* Clock.currentTimeMillis
    const key = TOKEN_PREFIX + randomBytes(32).toString("base64url")
    const row: KeyRow = {
      id: randomBytes(8).toString("hex"),
      name: valid.name,
      prefix: key.slice(0, PREFIX_LENGTH),
      hash: hashToken(key),
      role: valid.role,
      permissions: valid.permissions,
      rpm: valid.rpm,
      tpm: valid.tpm,
      maxPriority: valid.maxPriority,
      models: valid.models,
      expiresAt: valid.expiresInMs === null ? null : now + valid.expiresInMs,
      revoked: false,
      createdAt: now,
      lastUsedAt: null
    }
    yield* store.insertKey(row)
    return { key, record: toRecord(row) }
  })

  const revoke = Effect.fn("ApiKeys.revoke")(function*(ref: string) {
    const row = yield* Effect.flatMap(store.listKeys, (rows) => resolve(rows, ref.trim()))
    yield* store.revokeKey(row.id)
    return toRecord({ ...row, revoked: true })
  })

  const authenticate = Effect.fn("ApiKeys.authenticate")(function*(rawToken: string | undefined) {
    const token = rawToken?.trim() ?? ""
    if (token === "") return yield* new AuthError({ reason: "Missing", message: "missing API key" })
    const hash = hashToken(token)
    const found = yield* Effect.orDie(store.keyByHash(hash))
    const row = Option.getOrUndefined(found)
    if (row === undefined || !timingSafeEqual(Buffer.from(hash, "hex"), Buffer.from(row.hash, "hex"))) {
      return yield* new AuthError({ reason: "Invalid", message: "invalid API key" })
    }
    if (row.revoked) return yield* new AuthError({ reason: "Invalid", message: `API key '${row.name}' is revoked` })
    const now = yield* Clock.currentTimeMillis
    if (row.expiresAt !== null && now >= row.expiresAt) {
      return yield* new AuthError({ reason: "Invalid", message: `API key '${row.name}' has expired` })
    }
    if (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_INTERVAL_MS) {
      yield* Effect.orDie(store.touchKey(row.id, now))
      return toRecord({ ...row, lastUsedAt: now })
    }
    return toRecord(row)
  })

  const forbidden = (record: KeyRecord, why: string) =>
    Effect.fail(new AuthError({ reason: "Forbidden", message: `API key '${record.name}' ${why}` }))
  const authorize = (record: KeyRecord, permission: Permission, model?: string): Effect.Effect<void, AuthError> =>
    !record.permissions.includes(permission)
      ? forbidden(record, `lacks the '${permission}' permission`)
      : model !== undefined && !allowsModel(record, model)
      ? forbidden(record, `may not use model '${model}'`)
      : Effect.void

  return ApiKeys.of({
    create,
    list: Effect.map(store.listKeys, Arr.map(toRecord)),
    revoke,
    count: store.countKeys,
    authenticate,
    authorize
  })
})

/** Needs a `Store` (e.g. `Layer.provide(Store.layer(path))`). */
export const layer: Layer.Layer<ApiKeys, never, Store> = Layer.effect(ApiKeys, make)
