import { Clock, Effect, Exit, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { runVirtual } from "../../src/simulate/virtualTime.js"

describe("runVirtual", () => {
  it("jumps the clock to each timer and runs sleepers in time order", () => {
    const seen: Array<readonly [string, number]> = []
    const mark = (name: string, ms: number) =>
      Effect.sleep(ms).pipe(Effect.zipRight(Clock.currentTimeMillis), Effect.map((t) => seen.push([name, t])))
    const run = runVirtual(Effect.all([mark("b", 2_000), mark("a", 500), mark("c", 3_600_000)], {
      concurrency: "unbounded"
    }))
    expect(Exit.isSuccess(run.exit)).toBe(true)
    expect(seen).toEqual([["a", 500], ["b", 2_000], ["c", 3_600_000]])
    expect(run.endedAtMs).toBe(3_600_000)
  })

  it("runs a hundred thousand sleeps quickly and deterministically", () => {
    const program = Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) =>
      Effect.forEach(Array.from({ length: 1000 }, () => 0), () => Effect.sleep(1 + (i % 7)), { discard: true }), {
      concurrency: "unbounded",
      discard: true
    })
    const run = runVirtual(program)
    expect(run.timersFired).toBe(100_000)
    expect(run.endedAtMs).toBe(7_000)
  })

  it("honours timeouts and interruption of sleepers", () => {
    const run = runVirtual(Effect.gen(function*() {
      const slow = yield* Effect.fork(Effect.sleep(10_000))
      const timedOut = yield* Effect.sleep(5_000).pipe(Effect.timeout(1_000), Effect.option)
      yield* Fiber.interrupt(slow)
      return [timedOut._tag, yield* Clock.currentTimeMillis] as const
    }))
    expect(run.exit).toEqual(Exit.succeed(["None", 1_000]))
  })

  it("interrupts a program that waits with no timer left", () => {
    const run = runVirtual(Effect.never)
    expect(Exit.isInterrupted(run.exit)).toBe(true)
  })
})
