/**
 * Which models the gateway's own requests have put on a node since `/api/ps` last looked. Ollama loads a model
 * for the first request that asks for it and keeps it for `keep_alive`, but `/api/ps` is only read every
 * `modelsInterval`: without this, a burst for a cold model would see it cold on every node until the next probe
 * and load it on several of them. A model counts as resident from the moment a request for it holds a slot on
 * the node (it is loading then, so the next request waits less there than loading it anywhere else), until an
 * `/api/ps` taken after its last request ended says what became of it. A request with `keep_alive: 0` makes the
 * node unload the model as it ends, which the record knows too before `/api/ps` shows it.
 *
 * Keys are runners, not names: tags of one model file (`llama3.2`, `llama3.2:3b`) share one, as in Ollama.
 */

interface Use {
  active: number
  endedAt: number
  /** The latest request to begin set `keep_alive: 0` (in Ollama the latest one sets the runner's session). */
  unloadsWhenIdle: boolean
  /** It did, and every request has ended since: the node has dropped the model. */
  unloaded: boolean
}

/** What the gateway's own traffic says of a model on the node; `undefined`: nothing since `/api/ps` last looked. */
export type Residence = "resident" | "unloaded" | undefined

export interface Residency {
  /**
   * Counts one request for `model` on the node from now; the returned function (idempotent) ends it. With
   * `unloads` (`keep_alive: 0`), the node drops the model once no request uses it, unless a later one set
   * another `keep_alive`.
   */
  readonly begin: (model: string, unloads?: boolean) => () => void
  /** What the gateway's requests since the last look say of `model` (or another tag of its file) there. */
  readonly of: (model: string) => Residence
  /** `/api/ps`, taken at `since`, is now the truth about every model whose requests all ended before then. */
  readonly settle: (since: number) => void
}

export const makeResidency = (
  /** The runner a model name runs on: one key for every tag of a model file (its digest, `NodeHandle.fileOf`). */
  runnerOf: (model: string) => string,
  /** ms on Effect's clock. */
  now: () => number
): Residency => {
  const uses = new Map<string, Use>()
  return {
    begin: (model, unloads = false) => {
      const runner = runnerOf(model)
      let use = uses.get(runner)
      if (use === undefined) uses.set(runner, use = { active: 0, endedAt: 0, unloadsWhenIdle: false, unloaded: false })
      use.active++
      use.unloadsWhenIdle = unloads
      use.unloaded = false
      const counted = use
      let ended = false
      return () => {
        if (ended) return
        ended = true
        counted.active--
        counted.endedAt = now()
        counted.unloaded = counted.active === 0 && counted.unloadsWhenIdle
      }
    },
    of: (model) => {
      if (uses.size === 0) return undefined
      const use = uses.get(runnerOf(model))
      return use === undefined ? undefined : use.unloaded ? "unloaded" : "resident"
    },
    settle: (since) => {
      for (const [runner, use] of uses) if (use.active === 0 && use.endedAt < since) uses.delete(runner)
    }
  }
}
