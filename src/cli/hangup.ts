/**
 * SIGHUP for the long-running commands: Node's default action ends the process, so it is caught for the whole run
 * and handled in a fiber, one signal at a time (`serve` reloads its config; others say they ignore it).
 */
import { Cause, Console, Context, Effect, Option, Queue } from "effect"
import type { Scope } from "effect"

export class Hangups extends Context.Tag("sollol/cli/Hangups")<Hangups, {
  /** The subcommand, for the `sollol <command>: …` lines. */
  readonly command: string
  /** One element per SIGHUP not yet handled; those arriving while one is handled coalesce into one. */
  readonly signals: Queue.Dequeue<void>
}>() {}

/** Catches SIGHUP from now until the scope closes (the listener goes last, after the server has drained). */
export const listenHangups = (command: string): Effect.Effect<Hangups["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const signals = yield* Queue.sliding<void>(1)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const listener = () => void Queue.unsafeOffer(signals, undefined)
        process.on("SIGHUP", listener)
        return listener
      }),
      (listener) => Effect.sync(() => void process.off("SIGHUP", listener))
    )
    return Hangups.of({ command, signals })
  })

/** The handler of a command with nothing to reload. */
export const ignoreHangups = (command: string): Effect.Effect<void> =>
  Console.log(`sollol ${command}: SIGHUP ignored: no config file to reload`)

/**
 * Runs `handle` (built once, from the command's name) for each SIGHUP, in a fiber of the scope. Signals that came
 * before are handled now. Without `Hangups` (tests, embedding) there is no signal to handle.
 */
export const handleHangups = (
  make: (command: string) => Effect.Effect<Effect.Effect<unknown>>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hangups = yield* Effect.serviceOption(Hangups)
    if (Option.isNone(hangups)) return
    const { command, signals } = hangups.value
    // a reload that dies of a defect is reported, and the next SIGHUP is handled all the same
    const handle = Effect.catchAllCause(yield* make(command), (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Console.error(`sollol ${command}: SIGHUP failed: ${String(Cause.squash(cause))}; the running config stays in place`))
    yield* Queue.take(signals).pipe(Effect.zipRight(handle), Effect.forever, Effect.forkScoped)
  })
