import { it } from "vitest"
import { layerSollol } from "../../../src/strategies/sollol/index.js"
import { checkStrategyLaws } from "../../../src/testing/strategyLaws.js"

it("passes the strategy law suite", () => checkStrategyLaws(layerSollol(), { numRuns: 50 }), 60_000)
