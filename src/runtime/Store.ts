/**
 * The embedded SQLite store (better-sqlite3 behind an Effect service): API keys and persisted settings such as the
 * learning store's snapshot. Opened for a Scope, migrated at startup; `":memory:"` in tests.
 */
import Database from "better-sqlite3"
import { Clock, Context, Data, Effect, Layer, Option } from "effect"
import type { Scope } from "effect"

export class StoreError extends Data.TaggedError("StoreError")<{
  readonly reason: "Open" | "Migrate" | "Query" | "Decode"
  readonly message: string
  readonly cause?: unknown
}> {}

/** One row of `api_keys`, as stored. Times are milliseconds on Effect's clock; absent limits are `null`. */
export interface KeyRow {
  readonly id: string
  readonly name: string
  /** The first 14 characters of the token (`sk-sollol-` + 4), never more. */
  readonly prefix: string
  /** SHA-256 of the token, lower-case hex. */
  readonly hash: string
  readonly role: string
  readonly permissions: ReadonlyArray<string>
  readonly rpm: number | null
  readonly tpm: number | null
  readonly maxPriority: number | null
  /** Normalised model names; `null` = every model. */
  readonly models: ReadonlyArray<string> | null
  readonly expiresAt: number | null
  readonly revoked: boolean
  readonly createdAt: number
  readonly lastUsedAt: number | null
}

/** Ordered schema migrations: entry `i` brings the schema to version `i + 1`. Append only. */
export const migrations: ReadonlyArray<string> = [
  `CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    permissions TEXT NOT NULL,
    rpm INTEGER,
    tpm INTEGER,
    max_priority INTEGER,
    models TEXT,
    expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  );
  CREATE INDEX api_keys_name ON api_keys (name);
  CREATE INDEX api_keys_prefix ON api_keys (prefix);
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );`
]

export interface StoreService {
  /** The highest applied migration (equals `migrations.length` after startup). */
  readonly schemaVersion: Effect.Effect<number, StoreError>
  /** A setting's JSON value, `None` when never written. */
  readonly getSetting: (key: string) => Effect.Effect<Option.Option<unknown>, StoreError>
  /** Writes (or replaces) a setting; `json` must be JSON-serialisable. */
  readonly putSetting: (key: string, json: unknown) => Effect.Effect<void, StoreError>
  readonly insertKey: (row: KeyRow) => Effect.Effect<void, StoreError>
  readonly keyByHash: (hash: string) => Effect.Effect<Option.Option<KeyRow>, StoreError>
  /** Every key, oldest first. */
  readonly listKeys: Effect.Effect<ReadonlyArray<KeyRow>, StoreError>
  readonly revokeKey: (id: string) => Effect.Effect<void, StoreError>
  readonly touchKey: (id: string, at: number) => Effect.Effect<void, StoreError>
  /** Keys ever created, revoked and expired ones included. */
  readonly countKeys: Effect.Effect<number, StoreError>
}

export class Store extends Context.Tag("sollol/Store")<Store, StoreService>() {}

interface RawKeyRow {
  id: string
  name: string
  prefix: string
  hash: string
  role: string
  permissions: string
  rpm: number | null
  tpm: number | null
  max_priority: number | null
  models: string | null
  expires_at: number | null
  revoked: number
  created_at: number
  last_used_at: number | null
}

const stringArray = (json: string, column: string): ReadonlyArray<string> => {
  const value: unknown = JSON.parse(json)
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(`column ${column} is not a JSON array of strings`)
  }
  return value
}

const decodeKey = (raw: RawKeyRow): Effect.Effect<KeyRow, StoreError> =>
  Effect.try({
    try: () => ({
      id: raw.id,
      name: raw.name,
      prefix: raw.prefix,
      hash: raw.hash,
      role: raw.role,
      permissions: stringArray(raw.permissions, "permissions"),
      rpm: raw.rpm,
      tpm: raw.tpm,
      maxPriority: raw.max_priority,
      models: raw.models === null ? null : stringArray(raw.models, "models"),
      expiresAt: raw.expires_at,
      revoked: raw.revoked !== 0,
      createdAt: raw.created_at,
      lastUsedAt: raw.last_used_at
    }),
    catch: (cause) => new StoreError({ reason: "Decode", message: `api key ${raw.id}: ${String(cause)}`, cause })
  })

const query = <A>(what: string, f: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({
    try: f,
    catch: (cause) => new StoreError({ reason: "Query", message: `${what} failed: ${String(cause)}`, cause })
  })

/**
 * 1. Create `schema_migrations` if missing. 2. Read the highest applied version. 3. Apply each later migration and
 * record it, all in one IMMEDIATE transaction, so two processes opening the same file never both migrate.
 */
const migrate = (db: Database.Database, now: number): void => {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
  const apply = db.transaction(() => {
    const row = db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number }
    const record = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
    migrations.forEach((sql, i) => {
      if (i + 1 > row.v) {
        db.exec(sql)
        record.run(i + 1, now)
      }
    })
  })
  apply.immediate()
}

const openDatabase = (path: string): Effect.Effect<Database.Database, StoreError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const db = new Database(path)
        db.pragma("busy_timeout = 5000")
        if (path !== ":memory:") db.pragma("journal_mode = WAL")
        return db
      },
      catch: (cause) =>
        new StoreError({ reason: "Open", message: `cannot open database ${path}: ${String(cause)}`, cause })
    }),
    (db) => Effect.sync(() => db.close())
  )

/** Opens (creating if needed) and migrates the database at `path`; it is closed when the scope ends. */
export const make = (path: string): Effect.Effect<StoreService, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* openDatabase(path)
    const now = yield* Clock.currentTimeMillis
    yield* Effect.try({
      try: () => migrate(db, now),
      catch: (cause) => new StoreError({ reason: "Migrate", message: `migration failed: ${String(cause)}`, cause })
    })
    const stmt = {
      version: db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"),
      getSetting: db.prepare("SELECT value FROM settings WHERE key = ?"),
      putSetting: db.prepare(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) " +
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
      ),
      insertKey: db.prepare(
        "INSERT INTO api_keys (id, name, prefix, hash, role, permissions, rpm, tpm, max_priority, models, " +
          "expires_at, revoked, created_at, last_used_at) VALUES " +
          "(@id, @name, @prefix, @hash, @role, @permissions, @rpm, @tpm, @max_priority, @models, " +
          "@expires_at, @revoked, @created_at, @last_used_at)"
      ),
      keyByHash: db.prepare("SELECT * FROM api_keys WHERE hash = ?"),
      listKeys: db.prepare("SELECT * FROM api_keys ORDER BY created_at, rowid"),
      revokeKey: db.prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?"),
      touchKey: db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?"),
      countKeys: db.prepare("SELECT COUNT(*) AS n FROM api_keys")
    }
    return Store.of({
      schemaVersion: query("reading the schema version", () => (stmt.version.get() as { v: number }).v),
      getSetting: (key) =>
        Effect.flatMap(
          query(`reading setting ${key}`, () => stmt.getSetting.get(key) as { value: string } | undefined),
          (row) =>
            row === undefined ? Effect.succeedNone : Effect.try({
              try: () => Option.some(JSON.parse(row.value) as unknown),
              catch: (cause) => new StoreError({ reason: "Decode", message: `setting ${key} is not JSON`, cause })
            })
        ),
      putSetting: (key, json) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          query(`writing setting ${key}`, () => {
            const text = JSON.stringify(json)
            if (text === undefined) throw new Error("value is not JSON-serialisable")
            stmt.putSetting.run(key, text, at)
          })),
      insertKey: (row) =>
        query(`creating key ${row.name}`, () =>
          stmt.insertKey.run({
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            hash: row.hash,
            role: row.role,
            permissions: JSON.stringify(row.permissions),
            rpm: row.rpm,
            tpm: row.tpm,
            max_priority: row.maxPriority,
            models: row.models === null ? null : JSON.stringify(row.models),
            expires_at: row.expiresAt,
            revoked: row.revoked ? 1 : 0,
            created_at: row.createdAt,
            last_used_at: row.lastUsedAt
          })).pipe(Effect.asVoid),
      keyByHash: (hash) =>
        Effect.flatMap(
          query("looking up a key", () => stmt.keyByHash.get(hash) as RawKeyRow | undefined),
          (raw) => raw === undefined ? Effect.succeedNone : Effect.asSome(decodeKey(raw))
        ),
      listKeys: Effect.flatMap(
        query("listing keys", () => stmt.listKeys.all() as Array<RawKeyRow>),
        (rows) => Effect.forEach(rows, decodeKey)
      ),
      revokeKey: (id) => query(`revoking key ${id}`, () => stmt.revokeKey.run(id)).pipe(Effect.asVoid),
      touchKey: (id, at) => query(`touching key ${id}`, () => stmt.touchKey.run(at, id)).pipe(Effect.asVoid),
      countKeys: query("counting keys", () => (stmt.countKeys.get() as { n: number }).n)
    })
  })

/** The store on the SQLite file at `path` (`":memory:"` for a throwaway one). */
export const layer = (path: string): Layer.Layer<Store, StoreError> => Layer.scoped(Store, make(path))
