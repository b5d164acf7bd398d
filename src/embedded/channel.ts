/**
 * A one-consumer async iterable fed by pushes: how a streamed answer leaves the workflow without an HTTP hop.
 * Pushing past `highWater` items asks the producer to wait (`onDrain`); `cancel` runs when the consumer stops early.
 */
import { makeLineSplitter } from "../domain/ndjson.js"

export interface Channel<A> {
  readonly iterable: AsyncIterable<A>
  /** Queues one item; `false` means "wait for the drain callback". */
  readonly push: (item: A) => boolean
  readonly onDrain: (resume: () => void) => void
  readonly end: () => void
  /** Ends the iteration with `error` once the queued items are read; no-op after an end or an earlier failure. */
  readonly fail: (error: unknown) => void
}

export const makeChannel = <A>(cancel: () => void, highWater = 64): Channel<A> => {
  const items: Array<A> = []
  let ended = false
  let failure: { readonly error: unknown } | undefined
  let waiting: (() => void) | undefined
  let drain: (() => void) | undefined
  const wake = () => {
    const w = waiting
    waiting = undefined
    w?.()
  }
  const next = async (): Promise<IteratorResult<A>> => {
    for (;;) {
      if (items.length > 0) {
        const value = items.shift() as A
        if (items.length < highWater / 2 && drain !== undefined) {
          const d = drain
          drain = undefined
          d()
        }
        return { value, done: false }
      }
      if (failure !== undefined) throw failure.error
      if (ended) return { value: undefined, done: true }
      await new Promise<void>((resolve) => {
        waiting = resolve
      })
    }
  }
  const stop = async (): Promise<IteratorResult<A>> => {
    if (!ended && failure === undefined) {
      ended = true
      cancel()
    }
    items.length = 0
    return { value: undefined, done: true }
  }
  return {
    iterable: { [Symbol.asyncIterator]: () => ({ next, return: stop }) },
    push: (item) => {
      if (ended || failure !== undefined) return true
      items.push(item)
      wake()
      return items.length < highWater
    },
    onDrain: (resume) => {
      drain = resume
    },
    end: () => {
      ended = true
      wake()
    },
    fail: (error) => {
      // the first error is the one the consumer sees: a later "the call ended" must not hide why it ended
      if (ended || failure !== undefined) return
      failure = { error }
      wake()
    }
  }
}

/** Splits a byte stream into lines and parses each as JSON (NDJSON). */
export const makeLineParser = (onValue: (value: unknown) => void) => {
  const lines = makeLineSplitter((line) => onValue(JSON.parse(line)))
  return { write: lines.push, end: lines.flush }
}
