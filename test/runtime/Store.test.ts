import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import Database from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach } from "vitest"
import * as Store from "../../src/runtime/Store.js"
import type { KeyRow } from "../../src/runtime/Store.js"

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sollol-store-"))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const withStore = <A, E>(path: string, f: (store: Store.StoreService) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Store.make(path), f))

const row: KeyRow = {
  id: "k1",
  name: "ci",
  prefix: "sk-sollol-abcd",
  hash: "ab".repeat(32),
  role: "user",
  permissions: ["chat", "models"],
  rpm: 60,
  tpm: null,
  maxPriority: 7,
  models: ["llama3.2:latest"],
  expiresAt: null,
  revoked: false,
  createdAt: 5,
  lastUsedAt: null
}

describe("Store", () => {
  it.effect("applies migrations once, however often the same file is opened", () =>
    Effect.gen(function*() {
      const path = join(dir, "sollol.db")
      const first = yield* withStore(path, (s) => s.schemaVersion)
      const second = yield* withStore(path, (s) => s.schemaVersion)
      assert.strictEqual(first, Store.migrations.length)
      assert.strictEqual(second, Store.migrations.length)
      const db = new Database(path, { readonly: true })
      const rows = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all()
      const mode = db.pragma("journal_mode", { simple: true })
      db.close()
      assert.deepStrictEqual(rows, Store.migrations.map((_, i) => ({ version: i + 1 })))
      assert.strictEqual(mode, "wal")
    }))

  it.effect("keeps settings across a reopen of the same file", () =>
    Effect.gen(function*() {
      const path = join(dir, "sollol.db")
      const snapshot = { rates: { "gpu-1:11434": { decodeTps: 42.5 } }, samples: [1, 2, 3] }
      yield* withStore(path, (s) =>
        Effect.zipRight(s.putSetting("learning", { old: true }), s.putSetting("learning", snapshot)))
      const read = yield* withStore(path, (s) => Effect.all([s.getSetting("learning"), s.getSetting("absent")]))
      assert.deepStrictEqual(read, [Option.some(snapshot), Option.none()])
    }))

  it.effect("rejects a value that is not JSON", () =>
    Effect.gen(function*() {
      const error = yield* withStore(":memory:", (s) => Effect.flip(s.putSetting("x", undefined)))
      assert.strictEqual(error.reason, "Query")
    }))

  it.effect("stores, finds, touches, revokes and counts keys", () =>
    Effect.gen(function*() {
      const path = join(dir, "keys.db")
      yield* withStore(path, (s) => s.insertKey(row))
      const [found, missing, count] = yield* withStore(path, (s) =>
        Effect.gen(function*() {
          yield* s.touchKey("k1", 99)
          yield* s.revokeKey("k1")
          return [yield* s.keyByHash(row.hash), yield* s.keyByHash("cd".repeat(32)), yield* s.countKeys] as const
        }))
      assert.deepStrictEqual(found, Option.some({ ...row, lastUsedAt: 99, revoked: true }))
      assert.isTrue(Option.isNone(missing))
      assert.strictEqual(count, 1)
    }))

  it.effect("refuses a second key with the same hash", () =>
    Effect.gen(function*() {
      const error = yield* withStore(":memory:", (s) =>
        Effect.flip(Effect.zipRight(s.insertKey(row), s.insertKey({ ...row, id: "k2" }))))
      assert.strictEqual(error.reason, "Query")
      const listed = yield* withStore(":memory:", (s) => Effect.zipRight(s.insertKey(row), s.listKeys))
      assert.deepStrictEqual(listed, [row])
    }))

  it.effect("fails with an Open error for a path it cannot create", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withStore(join(dir, "missing", "x.db"), (s) => s.schemaVersion))
      assert.strictEqual(error.reason, "Open")
    }))
})
