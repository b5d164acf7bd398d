/**
 * Which models the gateway's own requests have put on a node since `/api/ps` last looked. Ollama loads a model
 * for the first request that asks for it and keeps it for `keep_alive`, but `/api/ps` is only read every
 * `modelsInterval`: without this, a burst for a cold model would see it cold on every node until the next probe
 * and load it on several of them. A model counts as resident from the moment a request for it holds a slot on
 * the node (it is loading then, so the next request waits less there than loading it anywhere else), until an
 * `/api/ps` taken after its last request ended says what became of it.
 *
 * Keys are runners, not names: tags of one model file (`llama3.2`, `llama3.2:3b`) share one, as in Ollama.
 */

interface Use {
  active: number
  endedAt: number
}

export interface Residency {
  /** Counts one request for `model` on the node from now; the returned function (idempotent) ends it. */
  readonly begin: (model: string) => () => void
  /** Whether a request of the gateway's has held `model` (or another tag of its file) there since the last look. */
  readonly has: (model: string) => boolean
  /** `/api/ps`, taken at `since`, is now the truth about every model whose requests all ended before then. */
  readonly settle: (since: number) => void
}

export const makeResidency = (
  /** The runner a model name runs on: its digest when `/api/tags` gave one, else the name. */
  runnerOf: (model: string) => string,
  /** ms on Effect's clock. */
  now: () => number
): Residency => {
  const uses = new Map<string, Use>()
  return {
    begin: (model) => {
      const runner = runnerOf(model)
      let use = uses.get(runner)
      if (use === undefined) uses.set(runner, use = { active: 0, endedAt: 0 })
      use.active++
      const counted = use
      let ended = false
      return () => {
        if (ended) return
        ended = true
        counted.active--
        counted.endedAt = now()
      }
    },
    has: (model) => uses.size > 0 && uses.has(runnerOf(model)),
    settle: (since) => {
      for (const [runner, use] of uses) if (use.active === 0 && use.endedAt < since) uses.delete(runner)
    }
  }
}
