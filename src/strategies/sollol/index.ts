/** The `sollol` strategy's public surface: its Layer, config and the scorers (for custom pipelines and tests). */
export { affinity } from "./affinity.js"
export { completionTime, estimate, type Estimate } from "./completionTime.js"
export {
  defaultSollolConfig,
  resolveSollolConfig,
  type SollolConfig,
  type SollolConfigInput,
  SollolConfigSchema,
  type SollolWeights
} from "./config.js"
export { makeContext, type Rates, type Scorer, type ScoringContext } from "./context.js"
export { health } from "./health.js"
export { options } from "./options.js"
export { decide, scorers } from "./picker.js"
export { priority } from "./priority.js"
export { layerSollol, makeSollol } from "./sollol.js"
