/** A SIGHUP whose handling dies of a defect is reported, and the next SIGHUP is handled all the same. */
import { Effect, Queue } from "effect"
import { describe, expect, it } from "vitest"
import { handleHangups, Hangups } from "../../src/cli/hangup.js"

describe("handleHangups", () => {
  it("keeps handling signals after a handler defect", async () => {
    const handled: Array<number> = []
    const errors: Array<string> = []
    const original = console.error
    console.error = (line: string) => void errors.push(line)
    try {
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const signals = yield* Queue.unbounded<void>()
        let n = 0
        yield* handleHangups(() => Effect.succeed(Effect.suspend(() => {
          n++
          if (n === 1) return Effect.die(new TypeError("invalid url"))
          handled.push(n)
          return Effect.void
        }))).pipe(Effect.provideService(Hangups, Hangups.of({ command: "serve", signals })))
        for (let i = 0; i < 3; i++) {
          yield* Queue.offer(signals, undefined)
          yield* Effect.yieldNow()
          yield* Effect.sleep("5 millis")
        }
      })))
    } finally {
      console.error = original
    }
    expect(handled).toEqual([2, 3])
    expect(errors).toEqual(["sollol serve: SIGHUP failed: TypeError: invalid url; the running config stays in place"])
  })
})
