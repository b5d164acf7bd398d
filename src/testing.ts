/** `sollol/testing`: the strategy law suite and its arbitraries, to check one's own strategy the way the built-ins are. */
export { candidateArb, candidatesArb, checkStrategyLaws, intentArb } from "./testing/strategyLaws.js"
export type { StrategyLawOptions } from "./testing/strategyLaws.js"
