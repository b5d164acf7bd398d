import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import * as ApiKeys from "../../src/runtime/ApiKeys.js"
import * as Store from "../../src/runtime/Store.js"

const TestLayer = ApiKeys.layer.pipe(Layer.provideMerge(Store.layer(":memory:")))
const run = <A, E>(effect: Effect.Effect<A, E, ApiKeys.ApiKeys | Store.Store>) => Effect.provide(effect, TestLayer)

describe("ApiKeys", () => {
  it.effect("authenticates a freshly created key and records its use", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const { key, record } = yield* keys.create({ name: "ci", role: "user", rpm: 30 })
      assert.match(key, /^sk-sollol-[A-Za-z0-9_-]{43}$/)
      assert.strictEqual(record.prefix, `${key.slice(0, 14)}…`)
      assert.deepStrictEqual(record.permissions, ["chat", "generate", "embed", "models"])
      yield* TestClock.adjust("5 seconds")
      const authed = yield* keys.authenticate(`  ${key} `)
      assert.strictEqual(authed.id, record.id)
      assert.strictEqual(authed.rpm, 30)
      assert.strictEqual(authed.lastUsedAt, 5000)
      const [listed] = yield* keys.list
      assert.strictEqual(listed?.lastUsedAt, 5000)
    })))

  it.effect("rejects a missing, wrong, revoked or expired key with the right reason", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const a = yield* keys.create({ name: "a", role: "user" })
      const b = yield* keys.create({ name: "b", role: "user", expiresInMs: 60_000 })
      const missing = yield* Effect.flip(keys.authenticate(undefined))
      const empty = yield* Effect.flip(keys.authenticate(""))
      const wrong = yield* Effect.flip(keys.authenticate(a.key.slice(0, -1) + (a.key.endsWith("A") ? "B" : "A")))
      assert.strictEqual(missing.reason, "Missing")
      assert.strictEqual(empty.reason, "Missing")
      assert.strictEqual(wrong.reason, "Invalid")
      yield* keys.authenticate(b.key)
      yield* TestClock.adjust("60 seconds")
      const expired = yield* Effect.flip(keys.authenticate(b.key))
      assert.deepStrictEqual([expired.reason, expired.message], ["Invalid", "API key 'b' has expired"])
      const revoked = yield* keys.revoke("a")
      assert.isTrue(revoked.revoked)
      const afterRevoke = yield* Effect.flip(keys.authenticate(a.key))
      assert.deepStrictEqual([afterRevoke.reason, afterRevoke.message], ["Invalid", "API key 'a' is revoked"])
      for (const e of [wrong, expired, afterRevoke]) {
        assert.notInclude(e.message, a.key.slice(14))
        assert.notInclude(e.message, b.key.slice(14))
      }
    })))

  it.effect("forbids a missing permission and a model outside the allow-list", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const models = ["Nomic-Embed-Text", "library/all-minilm:l6"]
      const { record } = yield* keys.create({ name: "emb", role: "batch", models })
      assert.deepStrictEqual(record.models, ["nomic-embed-text:latest", "all-minilm:l6"])
      yield* keys.authorize(record, "embed", "nomic-embed-text")
      yield* keys.authorize(record, "batch", "ALL-MINILM:L6")
      yield* keys.authorize(record, "models")
      const noChat = yield* Effect.flip(keys.authorize(record, "chat", "nomic-embed-text"))
      const otherModel = yield* Effect.flip(keys.authorize(record, "embed", "llama3.2"))
      assert.strictEqual(noChat.reason, "Forbidden")
      assert.strictEqual(otherModel.reason, "Forbidden")
      assert.include(otherModel.message, "llama3.2")
      const extra = yield* keys.create({ name: "ro+chat", role: "readonly", permissions: ["chat"] })
      assert.deepStrictEqual(extra.record.permissions, ["chat", "models", "stats"])
      yield* keys.authorize(extra.record, "chat", "anything")
      const admin = yield* keys.create({ name: "root", role: "admin" })
      for (const p of ApiKeys.permissions) yield* keys.authorize(admin.record, p)
    })))

  it.effect("clamps a priority above the key's ceiling and leaves lower ones alone", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const { record } = yield* keys.create({ name: "batch", role: "batch", maxPriority: 3 })
      const open = yield* keys.create({ name: "open", role: "user" })
      assert.deepStrictEqual([9, 3, 1].map((p) => ApiKeys.clampPriority(record, p)), [3, 3, 1])
      assert.strictEqual(ApiKeys.clampPriority(open.record, 10), 10)
    })))

  it.effect("never lists the raw key or its hash", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const created = yield* Effect.forEach(["x", "y"], (name) => keys.create({ name, role: "readonly", tpm: 1000 }))
      const text = JSON.stringify(yield* keys.list)
      for (const { key } of created) {
        assert.notInclude(text, key)
        assert.notInclude(text, key.slice(14, 30))
        assert.notInclude(text, ApiKeys.hashToken(key))
      }
      assert.strictEqual(yield* keys.count, 2)
    })))

  it.effect("revokes by id, name or prefix and refuses ambiguous or unknown references", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const one = yield* keys.create({ name: "one", role: "user" })
      const two = yield* keys.create({ name: "two", role: "user" })
      yield* keys.create({ name: "dup", role: "user" })
      yield* keys.create({ name: "dup", role: "user" })
      assert.strictEqual((yield* keys.revoke(one.record.id)).name, "one")
      assert.strictEqual((yield* keys.revoke(two.record.prefix)).name, "two")
      const ambiguous = yield* Effect.flip(keys.revoke("dup"))
      const unknown = yield* Effect.flip(keys.revoke("nope"))
      const tooShort = yield* Effect.flip(keys.revoke("sk-sollol-"))
      assert.deepStrictEqual([ambiguous.reason, unknown.reason, tooShort.reason], ["Ambiguous", "NotFound", "NotFound"])
      const again = yield* Effect.flip(keys.revoke("one"))
      assert.strictEqual(again.reason, "NotFound")
      assert.strictEqual(yield* keys.count, 4)
    })))

  it.effect("rejects invalid input without storing anything", () =>
    run(Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const bad = [
        { name: " ", role: "user" as const },
        { name: "sk-sollol-abc", role: "user" as const },
        { name: "n", role: "root" as ApiKeys.Role },
        { name: "n", role: "user" as const, permissions: ["fly" as ApiKeys.Permission] },
        { name: "n", role: "user" as const, rpm: 0 },
        { name: "n", role: "user" as const, tpm: 1.5 },
        { name: "n", role: "user" as const, maxPriority: 11 },
        { name: "n", role: "user" as const, models: [" "] },
        { name: "n", role: "user" as const, expiresInMs: -1 }
      ]
      for (const input of bad) {
        const error = yield* Effect.flip(keys.create(input))
        assert.strictEqual(error._tag === "KeyAdminError" && error.reason, "InvalidInput", JSON.stringify(input))
      }
      assert.strictEqual(yield* keys.count, 0)
    })))
})
