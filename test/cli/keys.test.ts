import { Effect, Layer } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { keysMain, parseDuration } from "../../src/cli/keys.js"
import * as ApiKeys from "../../src/runtime/ApiKeys.js"
import * as Store from "../../src/runtime/Store.js"

let dir = ""
let db = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sollol-keys-cli-"))
  db = join(dir, "keys.db")
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const cli = async (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const code = await keysMain(args, { print: (l) => out.push(l), printError: (l) => err.push(l), env })
  return { code, out, err: err.join("\n") }
}

const authenticate = (token: string) =>
  Effect.runPromise(
    Effect.flatMap(ApiKeys.ApiKeys, (k) => Effect.either(k.authenticate(token))).pipe(
      Effect.provide(ApiKeys.layer.pipe(Layer.provide(Store.layer(db))))
    )
  )

describe("sollol keys", () => {
  it("creates a key that the gateway's store accepts, lists it without key material, and revokes it", async () => {
    const created = await cli([
      "create", "--name", "ci", "--role", "user", "--rpm", "60", "--tpm", "5000", "--max-priority", "7",
      "--models", "llama3.2,nomic-embed-text", "--expires", "30d", "--permissions", "stats", "--db", db
    ])
    expect(created.code).toBe(0)
    expect(created.err).toContain("shown only once")
    const key = created.out.find((l) => l.startsWith("sk-sollol-"))
    expect(key).toMatch(/^sk-sollol-[A-Za-z0-9_-]{43}$/)
    const authed = await authenticate(key!)
    expect(authed._tag).toBe("Right")
    if (authed._tag === "Right") {
      expect(authed.right.permissions).toEqual(["chat", "generate", "embed", "models", "stats"])
      expect(authed.right.models).toEqual(["llama3.2:latest", "nomic-embed-text:latest"])
    }

    const table = await cli(["list"], { SOLLOL_DB: db })
    expect(table.code).toBe(0)
    expect(table.out[0]).toMatch(/^NAME\s+PREFIX\s+ROLE\s+LIMITS\s+EXPIRES\s+REVOKED\s+LAST USED$/)
    expect(table.out[1]).toContain(`${key!.slice(0, 14)}…`)
    expect(table.out[1]).toContain("rpm 60 · tpm 5000 · max-priority 7")
    expect(table.out[1]).toMatch(/\s+no\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/) // last used: by authenticate above
    const json = await cli(["list", "--json", "--db", db])
    const records = JSON.parse(json.out.join("\n")) as Array<ApiKeys.KeyRecord>
    expect(records.map((r) => [r.name, r.revoked])).toEqual([["ci", false]])
    for (const text of [table.out.join("\n"), json.out.join("\n")]) {
      expect(text).not.toContain(key!.slice(14))
      expect(text).not.toContain(ApiKeys.hashToken(key!))
    }

    const revoked = await cli(["revoke", `${key!.slice(0, 14)}…`, "--db", db])
    expect(revoked.code).toBe(0)
    expect(revoked.out[0]).toContain("Revoked key 'ci'")
    const after = await authenticate(key!)
    expect(after._tag === "Left" && after.left.reason).toBe("Invalid")
    expect((await cli(["list", "--db", db])).out[1]).toMatch(/\byes\b/)
    const files = [db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f))
    expect(files.some((bytes) => bytes.includes(Buffer.from(key!.slice(14))))).toBe(false)
  })

  it("rejects bad input with a clear message and exit code 2", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [[], "usage"],
      [["rotate"], "unknown command 'rotate'"],
      [["create", "--role", "user", "--db", db], "--name is required"],
      [["create", "--name", "x", "--role", "root", "--db", db], "--role must be one of"],
      [["create", "--name", "x", "--role", "user", "--rpm", "ten", "--db", db], "--rpm must be a whole number"],
      [["create", "--name", "x", "--role", "user", "--rpm", "0", "--db", db], "rpm must be a positive integer"],
      [["create", "--name", "x", "--role", "user", "--expires", "soon", "--db", db], "--expires must look like"],
      [["create", "--name", "x", "--role", "user", "--permissions", "chat,fly", "--db", db], "permission(s) fly"],
      [["create", "--name", "x", "--role", "user", "--max-priority", "11", "--db", db], "max priority must be"],
      [["create", "--name", "x", "--role", "user", "--bogus", "--db", db], "Unknown option '--bogus'"],
      [["list", "--name", "x", "--db", db], "'list' does not take --name"],
      [["revoke", "--db", db], "exactly one ID, NAME or PREFIX"]
    ]
    for (const [args, message] of cases) {
      const result = await cli(args)
      expect(result.code, args.join(" ")).toBe(2)
      expect(result.err, args.join(" ")).toContain(message)
    }
    expect((await cli(["list", "--db", db])).out).toEqual(["no keys"])
  })

  it("fails with exit code 1 when the key to revoke does not exist or the database cannot be opened", async () => {
    const missing = await cli(["revoke", "nobody", "--db", db])
    expect([missing.code, missing.err]).toEqual([1, "sollol keys: no active key matches 'nobody'"])
    const unopenable = await cli(["list", "--db", join(dir, "no", "such", "dir.db")])
    expect(unopenable.code).toBe(1)
    expect(unopenable.err).toContain("cannot open database")
  })

  it("parses key lifetimes", () => {
    expect(["30d", "12h", "90m", "45s", "2w", "3y", "d", ""].map(parseDuration)).toEqual([
      2_592_000_000, 43_200_000, 5_400_000, 45_000, 1_209_600_000, undefined, undefined, undefined
    ])
  })
})
