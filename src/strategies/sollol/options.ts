/**
 * Option compatibility: a loaded runner whose load options (`num_ctx`, `num_gpu`, …) differ from the request's must
 * be reloaded (Ollama's `needsReload`), which costs a model load. A node without the model already pays the load
 * in `completionTime`, so it is not charged twice.
 */
import type { Scorer } from "./context.js"

export const options: Scorer = (_intent, c, ctx) => c.modelLoaded && !c.optionsMatch ? ctx.ratesOf(c).loadMs : 0
