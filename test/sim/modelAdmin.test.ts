/** `/api/copy` and `/api/create` on a sim node (in process, TestClock): new tags, their digests, their runner, errors. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import type { Scope } from "effect"
import type { UpstreamError } from "../../src/domain/errors.js"
import { NodeId } from "../../src/domain/NodeId.js"
import { simUpstream } from "../../src/sim/inProcess.js"
import { makeSimNode } from "../../src/sim/SimNode.js"
import type { SimNode } from "../../src/sim/SimNode.js"
import { testProfile } from "./fixtures.js"
import { call, chatBody, json, lines } from "./helpers.js"
import type { Collected } from "./helpers.js"

const node = (models: ReadonlyArray<string> = ["tiny", "emb"]) =>
  makeSimNode({ name: "n", profile: testProfile, models, preload: ["tiny"] })

interface Tag {
  readonly name: string
  readonly digest: string
}

const tags = (n: SimNode) => Effect.map(call(n, "GET", "/api/tags"), (r) => json(r)["models"] as Array<Tag>)
const digestOf = (n: SimNode, name: string) => Effect.map(tags(n), (ts) => ts.find((t) => t.name === name)?.digest)
const statuses = (r: Collected) => lines(r).map((l) => l["status"] ?? { error: l["error"] })

/** Runs a request while the clock moves on (pulls and chats wait on it). */
const run = <A>(effect: Effect.Effect<A, UpstreamError>): Effect.Effect<A, UpstreamError, Scope.Scope> =>
  Effect.gen(function*() {
    const f = yield* Effect.fork(effect)
    yield* TestClock.adjust("10 seconds")
    return yield* Fiber.join(f)
  })

const chat = (n: SimNode, model: string) => run(call(n, "POST", "/api/chat", chatBody(model, "hello", { options: { num_predict: 3 } })))

describe("sim node /api/copy", () => {
  it.scoped("copies a model to another tag of the same file: 200 with an empty body, the same digest, one runner", () =>
    Effect.gen(function*() {
      const n = yield* node()
      yield* TestClock.adjust("1 second")
      const r = yield* call(n, "POST", "/api/copy", { source: "Tiny", destination: "library/backup" })
      assert.deepStrictEqual([r.status, r.body, r.headers["content-length"]], [200, "", "0"])
      const listed = yield* tags(n)
      assert.strictEqual(listed[0]?.name, "backup:latest", "the newest model is listed first")
      assert.strictEqual(listed[0]?.digest, yield* digestOf(n, "tiny:latest"))
      const show = json(yield* call(n, "POST", "/api/show", { model: "backup" }))
      assert.strictEqual((show["details"] as Record<string, unknown>)["parent_model"], "")
      assert.include(show["modelfile"] as string, "FROM backup:latest")
      const c = yield* chat(n, "backup")
      assert.strictEqual(c.status, 200)
      assert.strictEqual(json(c)["model"], "backup")
      assert.strictEqual((yield* n.stats).loads, 0, "it runs in the preloaded runner of tiny")
      // Deleting the copy leaves the runner to the tag still installed over the same file.
      assert.strictEqual((yield* call(n, "DELETE", "/api/delete", { model: "backup" })).status, 200)
      assert.deepStrictEqual(yield* n.loaded, ["tiny:latest"])
    }))

  it.scoped("answers a missing source with 404 and bad fields with 400, in Ollama's words", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const before = yield* tags(n)
      const cases: ReadonlyArray<readonly [unknown, number, string]> = [
        [{ source: "nope", destination: "x" }, 404, 'model "nope" not found'],
        [{ destination: "x" }, 400, 'source "" is invalid'],
        [{ source: "tiny" }, 400, 'destination "" is invalid'],
        [{ source: "tiny", destination: "bad name!" }, 400, 'destination "bad name!" is invalid'],
        [{ source: "tiny:", destination: "x" }, 400, 'source "tiny:" is invalid'],
        [{ source: 1, destination: "x" }, 400, "json: cannot unmarshal number into Go struct field CopyRequest.source of type string"],
        ["", 400, "missing request body"]
      ]
      for (const [body, status, error] of cases) {
        const r = yield* call(n, "POST", "/api/copy", body)
        assert.deepStrictEqual([r.status, json(r)], [status, { error }], JSON.stringify(body))
      }
      assert.strictEqual((yield* call(n, "GET", "/api/copy")).status, 405)
      assert.deepStrictEqual(yield* tags(n), before)
    }))

  it.scoped("is served the same way through the in-process upstream", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const up = simUpstream(n, NodeId("n:1"))
      let status = 0
      const body = new TextEncoder().encode(JSON.stringify({ source: "tiny", destination: "tiny:copy" }))
      yield* up.send({ method: "POST", path: "/api/copy", headers: {}, body }, (head) => {
        status = head.status
        return { write: () => {} }
      })
      assert.strictEqual(status, 200)
      assert.strictEqual(yield* digestOf(n, "tiny:copy"), yield* digestOf(n, "tiny:latest"))
    }))
})

describe("sim node /api/create", () => {
  it.scoped("creates from an installed model: status lines ending with success, a digest of its own, the base's runner", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const tiny = (yield* digestOf(n, "tiny:latest"))!
      const r = yield* call(n, "POST", "/api/create", { model: "mario", from: "tiny", system: "You are Mario.", parameters: { temperature: 0.7 } })
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.headers["content-type"], "application/x-ndjson")
      const s = statuses(r) as Array<string>
      assert.deepStrictEqual(s.map((x) => x.replace(/sha256:[0-9a-f]{64}/, "sha256:…")), [
        "using existing layer sha256:…", // weights
        "using existing layer sha256:…", // template
        "creating new layer sha256:…", // system
        "creating new layer sha256:…", // parameters
        "writing manifest",
        "success"
      ])
      assert.strictEqual(s[0], `using existing layer sha256:${tiny}`)
      const mario = yield* digestOf(n, "mario:latest")
      assert.match(mario ?? "", /^[0-9a-f]{64}$/)
      assert.notStrictEqual(mario, tiny)
      const show = json(yield* call(n, "POST", "/api/show", { model: "Mario" }))
      assert.strictEqual(show["system"], "You are Mario.")
      assert.strictEqual((show["details"] as Record<string, unknown>)["parent_model"], "tiny:latest")
      assert.strictEqual(show["parameters"], `stop${" ".repeat(27)}"<|eot_id|>"\ntemperature${" ".repeat(20)}0.7`)
      assert.include(show["modelfile"] as string, 'SYSTEM """You are Mario."""')
      const c = yield* chat(n, "mario")
      assert.strictEqual(json(c)["model"], "mario")
      assert.isBelow(json(c)["load_duration"] as number, 1e6)
      assert.strictEqual((yield* n.stats).loads, 0, "the same weights: tiny's runner serves it")
    }))

  it.scoped("answers stream:false with one final object, and reuses layers it already has", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const whole = yield* call(n, "POST", "/api/create", { model: "a", from: "tiny", system: "Be brief.", stream: false })
      assert.deepStrictEqual([whole.status, whole.headers["content-type"], whole.body], [200, "application/json", '{"status":"success"}'])
      const again = yield* call(n, "POST", "/api/create", { model: "b", from: "tiny", system: "Be brief." })
      assert.isTrue(statuses(again).slice(0, -2).every((x) => String(x).startsWith("using existing layer")))
      // The same request makes the same manifest: another node gets the same digest, so the gateway dedupes it.
      const other = yield* node()
      yield* call(other, "POST", "/api/create", { model: "a", from: "tiny", system: "Be brief.", stream: false })
      assert.strictEqual(yield* digestOf(other, "a:latest"), yield* digestOf(n, "a:latest"))
      assert.strictEqual(yield* digestOf(n, "b:latest"), yield* digestOf(n, "a:latest"))
    }))

  it.scoped("pulls a `from` the node lacks first, as Ollama does", () =>
    Effect.gen(function*() {
      const n = yield* node(["tiny"])
      const r = yield* run(call(n, "POST", "/api/create", { model: "helper", from: "other" }))
      const s = statuses(r)
      assert.strictEqual(s[0], "pulling manifest")
      assert.include(s, "writing manifest")
      assert.strictEqual(s.at(-1), "success")
      const names = (yield* tags(n)).map((t) => t.name)
      assert.includeMembers(names, ["other:latest", "helper:latest"])
      assert.strictEqual((yield* chat(n, "helper")).status, 200)
    }))

  it.scoped("answers an unknown `from` as a failed pull: an error line on a stream, 500 without one", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const streamed = yield* call(n, "POST", "/api/create", { model: "x", from: "nope" })
      assert.strictEqual(streamed.status, 200)
      assert.deepStrictEqual(lines(streamed), [{ status: "pulling manifest" }, { error: "pull model manifest: file does not exist" }])
      const whole = yield* call(n, "POST", "/api/create", { model: "x", from: "nope", stream: false })
      assert.deepStrictEqual([whole.status, json(whole)], [500, { error: "pull model manifest: file does not exist" }])
      assert.notInclude((yield* tags(n)).map((t) => t.name), "x:latest")
    }))

  it.scoped("answers blobs the node does not have with Ollama's errors", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const digest = `sha256:${"ab".repeat(32)}`
      const path = `/usr/share/ollama/.ollama/models/blobs/sha256-${"ab".repeat(32)}`
      const gguf = yield* call(n, "POST", "/api/create", { model: "x", files: { "model.gguf": digest } })
      assert.strictEqual(gguf.status, 200)
      assert.deepStrictEqual(lines(gguf), [{ status: "parsing GGUF" }, { error: `open ${path}: no such file or directory` }])
      const whole = yield* call(n, "POST", "/api/create", { model: "x", files: { "model.gguf": digest }, stream: false })
      assert.deepStrictEqual([whole.status, json(whole)], [500, { error: `open ${path}: no such file or directory` }])
      const bare = yield* call(n, "POST", "/api/create", { model: "x", files: { model: digest } })
      assert.deepStrictEqual([bare.status, json(bare)], [400, { error: `blob not found for model (digest ${digest}): open ${path}: no such file or directory` }])
      const st = yield* call(n, "POST", "/api/create", { model: "x", files: { "model.safetensors": digest } })
      assert.deepStrictEqual([st.status, json(st)], [400, { error: `blob not found for model.safetensors (digest ${digest}): stat ${path}: no such file or directory` }])
      assert.notInclude((yield* tags(n)).map((t) => t.name), "x:latest")
    }))

  it.scoped("refuses bad requests with 400 before streaming, in Ollama's words", () =>
    Effect.gen(function*() {
      const n = yield* node()
      const before = yield* tags(n)
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ model: "x" }, "neither 'from' or 'files' was specified"],
        [{ from: "tiny" }, "invalid model name"],
        [{ model: "bad name", from: "tiny" }, "invalid model name"],
        [{ model: "x", from: "bad name" }, "invalid model name"],
        [{ model: 5, from: "tiny" }, "json: cannot unmarshal number into Go struct field CreateRequest.model of type string"],
        [{ model: "x", from: "tiny", stream: "no" }, "json: cannot unmarshal string into Go struct field CreateRequest.stream of type bool"],
        [{ model: "x", from: "tiny", adapters: { "a.gguf": `sha256:${"0".repeat(64)}` } }, "LoRA adapters are no longer supported"],
        [{ model: "x", files: { "model.gguf": "sha256:xyz" } }, "invalid digest for model.gguf: invalid digest format"],
        [{ model: "x", files: { "../model.gguf": `sha256:${"0".repeat(64)}` } }, "file path must be relative: ../model.gguf"],
        [{ model: "x", files: {} }, "unknown type"],
        [{ model: "x", from: "tiny", quantize: "q4_K_M" }, "create-time quantization is only supported for safetensors imports; quantize GGUF models with llama.cpp tools before importing"],
        [{ model: "x", from: "tiny", parameters: { typical_p: 0.5 } }, "typical_p is deprecated and cannot be set as a model parameter; pass it as a request option instead"]
      ]
      for (const [body, error] of cases) {
        const r = yield* call(n, "POST", "/api/create", body)
        assert.deepStrictEqual([r.status, json(r)], [400, { error }], JSON.stringify(body))
      }
      assert.deepStrictEqual(yield* tags(n), before)
    }))
})
