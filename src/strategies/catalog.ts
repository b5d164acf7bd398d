/**
 * Strategies by name, for config and the CLI: the built-ins plus any the user registers. Adding a strategy
 * is one line in `builtinStrategies`.
 */
import { Data, Either, Layer } from "effect"
import { layerLeastLoaded } from "./leastLoaded.js"
import { layerP2cEwma } from "./p2cEwma.js"
import { layerRandom } from "./random.js"
import { layerRoundRobin } from "./roundRobin.js"
import { layerSollol } from "./sollol/index.js"
import type { SollolConfigInput } from "./sollol/index.js"
import type { Strategy } from "./Strategy.js"

export type StrategyName = string

/** Strategy layers by name. */
export type StrategyCatalog = Readonly<Record<StrategyName, Layer.Layer<Strategy>>>

export const builtinStrategies: Readonly<
  Record<"round-robin" | "random" | "least-loaded" | "p2c-ewma" | "sollol", Layer.Layer<Strategy>>
> = {
  "round-robin": layerRoundRobin,
  "random": layerRandom,
  "least-loaded": layerLeastLoaded,
  "p2c-ewma": layerP2cEwma,
  "sollol": layerSollol()
}

/** The strategy used when config names none. */
export const defaultStrategyName: StrategyName = "sollol"

/** The config names a strategy the catalog does not have. */
export class UnknownStrategy extends Data.TaggedError("UnknownStrategy")<{
  readonly name: string
  readonly known: ReadonlyArray<StrategyName>
}> {
  override get message() {
    return `unknown strategy '${this.name}'; known strategies: ${this.known.join(", ")}`
  }
}

/** The built-ins plus `extra`; an extra entry with a built-in's name replaces that built-in. */
/** The built-ins, with `sollol` built from `sollol` settings when given, then `extra` (which may replace any). */
export const makeCatalog = (extra: StrategyCatalog = {}, sollol?: SollolConfigInput): StrategyCatalog => ({
  ...builtinStrategies,
  ...(sollol !== undefined && Object.keys(sollol).length > 0 ? { sollol: layerSollol(sollol) } : {}),
  ...extra
})

/** The layer registered as `name` (exact match), or `UnknownStrategy` listing the known names. */
export const strategyLayer = (
  name: StrategyName,
  catalog: StrategyCatalog = builtinStrategies
): Either.Either<Layer.Layer<Strategy>, UnknownStrategy> =>
  Object.hasOwn(catalog, name) && catalog[name] !== undefined
    ? Either.right(catalog[name])
    : Either.left(new UnknownStrategy({ name, known: Object.keys(catalog) }))

/** `strategyLayer` as a Layer: building it fails with `UnknownStrategy` for an unknown name. */
export const layerFromName = (
  name: StrategyName,
  catalog: StrategyCatalog = builtinStrategies
): Layer.Layer<Strategy, UnknownStrategy> => Layer.unwrapEffect(strategyLayer(name, catalog))
