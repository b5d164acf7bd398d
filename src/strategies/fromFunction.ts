/**
 * Lifts a plain function `(request, candidates) => candidate` into a Strategy layer, for users who write
 * their own routing without Effect. The lift guards the contract: the pick is always one of the candidates.
 */
import { Layer, Option } from "effect"
import type { Candidate } from "../domain/Candidate.js"
import { simplePick } from "../domain/Decision.js"
import type { Pick } from "../domain/Decision.js"
import type { RoutingIntent } from "../domain/Request.js"
import { plural, Strategy, synchronous } from "./Strategy.js"

/** A routing function; it should return one of `candidates` (matched by `nodeId`). */
export type ChooseFunction = (request: RoutingIntent, candidates: ReadonlyArray<Candidate>) => Candidate | undefined

const describe = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === "string" ? e : "a non-Error value"
const describeId = (id: unknown): string => typeof id === "string" ? `'${id}'` : "a value without a known nodeId"

/** The list's own candidate the function returned, or why there is none. */
const attempt = (
  choose: ChooseFunction,
  intent: RoutingIntent,
  candidates: ReadonlyArray<Candidate>
): Candidate | string => {
  let returned: unknown
  try {
    returned = choose(intent, candidates.slice()) // a copy: an in-place sort cannot reorder ours
  } catch (e) {
    return `threw (${describe(e)})`
  }
  const id = typeof returned === "object" && returned !== null && "nodeId" in returned ? returned.nodeId : undefined
  const found = candidates.find((c) => c.nodeId === id)
  if (found !== undefined) return found
  return returned === undefined ? "returned no candidate" : `returned ${describeId(id)}, not in the list`
}

/**
 * Builds a Strategy named `name` from `choose`. It is called only with a non-empty list (an empty list gives None).
 * The pick is the list's own candidate with the returned `nodeId`. If the function returns `undefined`, a
 * candidate whose `nodeId` is not in the list, or throws, the first candidate is picked instead and the
 * pick's `reasoning` says why: a buggy function degrades to "first candidate", never to a node outside the list.
 */
export const fromFunction = (name: string, choose: ChooseFunction): Layer.Layer<Strategy> =>
  Layer.succeed(
    Strategy,
    synchronous(name, (intent, candidates) => {
      const [first] = candidates
      if (first === undefined) return Option.none()
      const result = attempt(choose, intent, candidates)
      return Option.some<Pick>(
        typeof result === "string"
          ? simplePick(first, `${name}: the function ${result}; fell back to the first candidate`)
          : simplePick(result, `${name}: custom choice (${plural(candidates.length)})`)
      )
    })
  )
