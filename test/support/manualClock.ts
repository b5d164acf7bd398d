/** A clock moved by hand: code that only reads the time (key expiry, rate limits) runs fast and exactly. */
import { Clock, Duration, Effect } from "effect"

export const manualClock = (time: { ms: number }): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => time.ms,
  currentTimeMillis: Effect.sync(() => time.ms),
  unsafeCurrentTimeNanos: () => BigInt(time.ms) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(time.ms) * 1_000_000n),
  sleep: (d: Duration.DurationInput) => Effect.sync(() => void (time.ms += Duration.toMillis(d)))
})
