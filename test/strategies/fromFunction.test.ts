import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Candidate } from "../../src/domain/Candidate.js"
import { fromFunction } from "../../src/strategies/fromFunction.js"
import { Strategy } from "../../src/strategies/Strategy.js"
import { candidate, choose, intent } from "./fixtures.js"

const three = [candidate("a", { inFlight: 2 }), candidate("b", { inFlight: 0 }), candidate("c", { inFlight: 1 })]
const fewestInFlight = (_: unknown, cs: ReadonlyArray<Candidate>) =>
  cs.reduce((best, c) => (c.inFlight < best.inFlight ? c : best))

describe("fromFunction", () => {
  it.effect("lifts a plain function into a named strategy", () =>
    Effect.gen(function*() {
      const s = yield* Strategy
      assert.strictEqual(s.name, "fewest")
      const pick = Option.getOrThrow(yield* s.choose(intent, three))
      assert.strictEqual(pick.candidate, three[1])
      assert.strictEqual(pick.reasoning, "fewest: custom choice (3 candidates)")
    }).pipe(Effect.provide(fromFunction("fewest", fewestInFlight))))

  it.effect("passes the request through and never calls the function with an empty list", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const layer = fromFunction("by-priority", (request, cs) => {
        seen.push(request.requestId)
        return request.priority >= 8 ? cs[cs.length - 1] : cs[0]
      })
      const s = yield* Effect.provide(Strategy, layer)
      assert.isTrue(Option.isNone(yield* s.choose(intent, [])))
      const urgent = Option.getOrThrow(yield* s.choose({ ...intent, requestId: "r-9", priority: 9 }, three))
      assert.strictEqual(urgent.candidate.nodeId, "c")
      assert.deepStrictEqual(seen, ["r-9"])
    }))

  it.effect("returns the list's own candidate when the function returns a copy", () =>
    Effect.gen(function*() {
      const pick = yield* choose(three).pipe(Effect.provide(fromFunction("copy", (_, cs) => ({ ...cs[2]! }))))
      assert.strictEqual(pick.candidate, three[2])
    }))

  it.effect("falls back to the first candidate when the function picks outside the list", () =>
    Effect.gen(function*() {
      const pick = yield* choose(three).pipe(Effect.provide(fromFunction("rogue", () => candidate("elsewhere"))))
      assert.strictEqual(pick.candidate, three[0])
      assert.strictEqual(
        pick.reasoning,
        "rogue: the function returned 'elsewhere', not in the list; fell back to the first candidate"
      )
    }))

  it.effect("falls back to the first candidate when the function returns nothing", () =>
    Effect.gen(function*() {
      const pick = yield* choose(three).pipe(Effect.provide(fromFunction("lazy", () => undefined)))
      assert.strictEqual(pick.candidate, three[0])
      assert.strictEqual(pick.reasoning, "lazy: the function returned no candidate; fell back to the first candidate")
    }))

  it.effect("falls back to the first candidate when the function throws", () =>
    Effect.gen(function*() {
      const pick = yield* choose(three).pipe(Effect.provide(fromFunction("boom", () => {
        throw new Error("no idea")
      })))
      assert.strictEqual(pick.candidate, three[0])
      assert.strictEqual(pick.reasoning, "boom: the function threw (no idea); fell back to the first candidate")
    }))

  it.effect("is not fooled by a function that sorts the list in place", () =>
    Effect.gen(function*() {
      const list = [...three]
      const sorter = (_: unknown, cs: ReadonlyArray<Candidate>) =>
        (cs as Array<Candidate>).sort((x, y) => x.inFlight - y.inFlight)[0]
      const pick = yield* choose(list).pipe(Effect.provide(fromFunction("sorter", sorter)))
      assert.strictEqual(pick.candidate.nodeId, "b")
      assert.deepStrictEqual(list.map((c) => c.nodeId), ["a", "b", "c"])
    }))
})
