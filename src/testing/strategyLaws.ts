/**
 * The strategy law suite (exported as `sollol/testing`): fast-check 4 arbitraries for candidates and intents, and
 * `checkStrategyLaws`, which any Strategy layer — built-in or a user's — must pass. Framework-agnostic: it throws.
 */
import { Cause, Clock, Effect, Exit, Option, Random } from "effect"
import type { Layer } from "effect"
import fc from "fast-check"
import type { Candidate, NodeModelPerf } from "../domain/Candidate.js"
import type { Health } from "../domain/Health.js"
import { NodeId } from "../domain/NodeId.js"
import type { Complexity, RequestKind, RoutingIntent, TaskType } from "../domain/Request.js"
import type { Pick } from "../domain/Decision.js"
import { Strategy } from "../strategies/Strategy.js"

const nodeIdArb: fc.Arbitrary<NodeId> = fc.oneof(
  fc.integer({ min: 0, max: 63 }).map((n) => NodeId(`node-${n}:11434`)),
  fc.string({ minLength: 1, maxLength: 12 }).map(NodeId)
)

const perfArb: fc.Arbitrary<NodeModelPerf> = fc.record({
  prefillTps: fc.double({ min: 1, max: 10_000, noNaN: true }),
  decodeTps: fc.double({ min: 0.5, max: 500, noNaN: true }),
  loadMs: fc.double({ min: 0, max: 120_000, noNaN: true }),
  ttftMs: fc.double({ min: 0, max: 60_000, noNaN: true }),
  successRate: fc.double({ min: 0, max: 1, noNaN: true }),
  samples: fc.nat(10_000)
})

/** Any routable candidate: load, latency and learned figures span idle to saturated; `slots` may be 0. */
export const candidateArb: fc.Arbitrary<Candidate> = fc.record({
  nodeId: nodeIdArb,
  health: fc.constantFrom<Exclude<Health, "excluded">>("healthy", "degraded", "recovering"),
  inFlight: fc.nat(64),
  slots: fc.integer({ min: 0, max: 16 }),
  ewmaMs: fc.double({ min: 0, max: 100_000, noNaN: true }),
  modelLoaded: fc.boolean(),
  gpuShare: fc.option(fc.constantFrom(0, 0.5, 1), { nil: undefined }),
  optionsMatch: fc.boolean(),
  recentFailures: fc.double({ min: 0, max: 100, noNaN: true }),
  perf: fc.option(perfArb, { nil: undefined })
}).map((c) => ({ ...c, preferred: c.health === "healthy" }))

/** 0..8 candidates with unique nodeIds, as the registry hands them to a strategy. */
export const candidatesArb: fc.Arbitrary<ReadonlyArray<Candidate>> = fc.uniqueArray(candidateArb, {
  selector: (c) => c.nodeId,
  maxLength: 8
})

const kinds: ReadonlyArray<RequestKind> = [
  "chat", "generate", "embed", "embeddings", "show", "openai-chat", "openai-completions", "openai-embeddings"
]
const paths: Record<RequestKind, string> = {
  "chat": "/api/chat",
  "generate": "/api/generate",
  "embed": "/api/embed",
  "embeddings": "/api/embeddings",
  "show": "/api/show",
  "openai-chat": "/v1/chat/completions",
  "openai-completions": "/v1/completions",
  "openai-embeddings": "/v1/embeddings"
}

/** Any analysed request: every kind and task type, priorities 1–10, with or without an affinity key. */
export const intentArb: fc.Arbitrary<RoutingIntent> = fc.record({
  requestId: fc.uuid(),
  kind: fc.constantFrom(...kinds),
  model: fc.constantFrom("llama3.2:latest", "qwen2.5:7b", "nomic-embed-text:latest", "mistral:latest"),
  stream: fc.boolean(),
  priority: fc.integer({ min: 1, max: 10 }),
  taskType: fc.constantFrom<TaskType>(
    "generation", "embedding", "classification", "extraction", "summarization", "analysis"
  ),
  complexity: fc.constantFrom<Complexity>("simple", "medium", "complex"),
  promptTokens: fc.nat(32_768),
  conversationDepth: fc.nat(50),
  expectedOutputTokens: fc.nat(4096),
  loadOptions: fc.dictionary(
    fc.constantFrom("num_ctx", "num_gpu", "num_batch"),
    fc.oneof(fc.nat(131_072), fc.boolean(), fc.string({ maxLength: 8 })),
    { maxKeys: 3 }
  ),
  affinityKey: fc.option(fc.stringMatching(/^[0-9a-f]{16}$/), { nil: undefined }),
  unloadsModel: fc.boolean(),
  // an unload-only request is broadcast, never handed to a strategy
  unloadOnly: fc.constant(false),
  arrivedAt: fc.nat()
}).map((r) => ({
  ...r,
  upstream: {
    method: "POST",
    path: paths[r.kind],
    headers: { "content-type": "application/json" },
    body: new TextEncoder().encode(JSON.stringify({ model: r.model }))
  }
}))

export interface StrategyLawOptions {
  /** Runs per law; the fairness law uses a fifth of it (at least 5). Default 100. */
  readonly numRuns?: number
  /** fast-check seed, so a run is reproducible. Default 42. */
  readonly seed?: number
}

/** One call to `choose`, repeated `times` in a row (stateful strategies see the same list again). */
type Call = readonly [intent: RoutingIntent, candidates: ReadonlyArray<Candidate>, times: number]

const callsArb: fc.Arbitrary<ReadonlyArray<Call>> = fc.array(
  fc.tuple(intentArb, candidatesArb, fc.integer({ min: 1, max: 3 })),
  { minLength: 1, maxLength: 12 }
)

const expand = (calls: ReadonlyArray<Call>): ReadonlyArray<readonly [RoutingIntent, ReadonlyArray<Candidate>]> =>
  calls.flatMap(([intent, candidates, times]) => Array.from({ length: times }, () => [intent, candidates] as const))

/** Builds `layer` afresh and runs the calls in order, under `Random.make(seed)` (the layer's build included). */
const session = (
  layer: Layer.Layer<Strategy>,
  seed: number,
  calls: ReadonlyArray<readonly [RoutingIntent, ReadonlyArray<Candidate>]>
): Promise<Exit.Exit<ReadonlyArray<Option.Option<Pick>>>> =>
  Effect.runPromiseExit(
    Effect.flatMap(Strategy, (s) => Effect.forEach(calls, ([intent, candidates]) => s.choose(intent, candidates))).pipe(
      Effect.provide(layer),
      Effect.withRandom(Random.make(seed))
    )
  )

/** A clock stopped at `at` ms, so `choose` (which reads Effect's Clock) and `chooseNow(…, at)` see the same time. */
const stoppedClock = (at: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => at,
  currentTimeMillis: Effect.succeed(at),
  unsafeCurrentTimeNanos: () => BigInt(at) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(at) * 1_000_000n),
  sleep: () => Effect.void
})

/** What a pick says, for comparing two runs: node, score and reasoning (None as null). */
const summaryOf = (pick: Option.Option<Pick>) =>
  Option.match(pick, {
    onNone: () => null,
    onSome: (p) => ({ node: p.candidate.nodeId, score: p.score, reasoning: p.reasoning })
  })

/**
 * The same calls through `choose` at a stopped clock and through `chooseNow` at that time, each on a fresh build
 * of the layer; undefined when the strategy has no `chooseNow`.
 */
const bothWays = (
  layer: Layer.Layer<Strategy>,
  seed: number,
  at: number,
  calls: ReadonlyArray<readonly [RoutingIntent, ReadonlyArray<Candidate>]>
) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const viaEffect = yield* Effect.flatMap(
        Strategy,
        (s) => Effect.forEach(calls, ([intent, candidates]) => s.choose(intent, candidates))
      ).pipe(Effect.provide(layer), Effect.withClock(stoppedClock(at)), Effect.withRandom(Random.make(seed)))
      const chooseNow = (yield* Effect.provide(Strategy, layer).pipe(Effect.withRandom(Random.make(seed)))).chooseNow
      if (chooseNow === undefined) return undefined
      return { viaEffect, direct: calls.map(([intent, candidates]) => chooseNow(intent, candidates, at)) }
    })
  )

const picksOrThrow = (exit: Exit.Exit<ReadonlyArray<Option.Option<Pick>>>): ReadonlyArray<Option.Option<Pick>> => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`law (d) never fails or dies: choose failed with ${Cause.pretty(exit.cause)}`)
}

const ids = (cs: ReadonlyArray<Candidate>): string => `[${cs.map((c) => JSON.stringify(c.nodeId)).join(", ")}]`

/** Laws (a), (b) and the reasoning requirement, for one call's result. */
const checkPick = (candidates: ReadonlyArray<Candidate>, result: Option.Option<Pick>): void => {
  if (Option.isNone(result)) {
    if (candidates.length > 0) throw new Error(`law (a) None iff empty: None for ${ids(candidates)}`)
    return
  }
  const pick = result.value
  if (candidates.length === 0) throw new Error(`law (a) None iff empty: picked ${pick.candidate.nodeId} from []`)
  if (!candidates.some((c) => c === pick.candidate || c.nodeId === pick.candidate.nodeId)) {
    throw new Error(`law (b) picks only from the list: ${pick.candidate.nodeId} is not in ${ids(candidates)}`)
  }
  if (typeof pick.reasoning !== "string" || pick.reasoning.trim() === "") {
    throw new Error(`law (f) every pick says why: empty reasoning for ${pick.candidate.nodeId}`)
  }
}

const nodeIdsOf = (picks: ReadonlyArray<Option.Option<Pick>>): ReadonlyArray<string | null> =>
  picks.map(Option.match({ onNone: () => null, onSome: (p) => p.candidate.nodeId }))

/** Fairness tolerance: among n identical idle candidates, over 100·n picks each gets at least half its share. */
const FAIR_PICKS_PER_CANDIDATE = 100
const FAIR_MIN_SHARE = 0.5

/**
 * Checks a Strategy layer against the laws; throws (fast-check's report, naming the law) when one fails.
 * (a) `None` iff the list is empty. (b) The pick is one of the candidates (by reference or nodeId).
 * (c) Deterministic: a fresh build under the same `Random` seed makes the same picks.
 * (d) `choose` never fails or dies, for any candidate list. (e) Fair: among 2–8 identical idle candidates and
 * requests without affinity, over 100·n picks every candidate gets at least 50 (half its share).
 * (f) Every pick carries a non-empty `reasoning`.
 * (g) A strategy with `chooseNow` makes through it exactly the picks `choose` makes at the same time.
 */
export const checkStrategyLaws = async (
  layer: Layer.Layer<Strategy>,
  options: StrategyLawOptions = {}
): Promise<void> => {
  const numRuns = options.numRuns ?? 100
  const seed = options.seed ?? 42
  const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 })

  await fc.assert(
    fc.asyncProperty(seedArb, callsArb, async (randomSeed, calls) => {
      const expanded = expand(calls)
      const picks = picksOrThrow(await session(layer, randomSeed, expanded))
      expanded.forEach(([, candidates], i) => checkPick(candidates, picks[i] ?? Option.none()))
    }),
    { numRuns, seed, includeErrorInReport: true }
  )

  await fc.assert(
    fc.asyncProperty(seedArb, callsArb, async (randomSeed, calls) => {
      const expanded = expand(calls)
      const first = nodeIdsOf(picksOrThrow(await session(layer, randomSeed, expanded)))
      const second = nodeIdsOf(picksOrThrow(await session(layer, randomSeed, expanded)))
      if (JSON.stringify(first) !== JSON.stringify(second)) {
        throw new Error(`law (c) deterministic under a seed: ${JSON.stringify(first)} then ${JSON.stringify(second)}`)
      }
    }),
    { numRuns, seed, includeErrorInReport: true }
  )

  await fc.assert(
    fc.asyncProperty(seedArb, callsArb, fc.nat(), async (randomSeed, calls, at) => {
      const runs = await bothWays(layer, randomSeed, at, expand(calls))
      if (runs === undefined) return
      const viaEffect = JSON.stringify(runs.viaEffect.map(summaryOf))
      const direct = JSON.stringify(runs.direct.map(summaryOf))
      if (viaEffect !== direct) throw new Error(`law (g) chooseNow agrees with choose: ${viaEffect} then ${direct}`)
    }),
    { numRuns, seed, includeErrorInReport: true }
  )

  await fc.assert(
    fc.asyncProperty(seedArb, candidateArb, intentArb, fc.integer({ min: 2, max: 8 }), async (s, base, intent, n) => {
      const candidates = Array.from({ length: n }, (_, i) => ({ ...base, nodeId: NodeId(`fair-${i}`), inFlight: 0 }))
      const picks = n * FAIR_PICKS_PER_CANDIDATE
      const calls = Array.from(
        { length: picks },
        (_, k) => [{ ...intent, requestId: `${intent.requestId}-${k}`, affinityKey: undefined }, candidates] as const
      )
      const counts = new Map<string | null, number>()
      const chosen = nodeIdsOf(picksOrThrow(await session(layer, s, calls)))
      for (const id of chosen) counts.set(id, (counts.get(id) ?? 0) + 1)
      const floor = FAIR_PICKS_PER_CANDIDATE * FAIR_MIN_SHARE
      const starved = candidates.filter((c) => (counts.get(c.nodeId) ?? 0) < floor)
      if (starved.length > 0) {
        const got = candidates.map((c) => `${c.nodeId}=${counts.get(c.nodeId) ?? 0}`).join(" ")
        throw new Error(`law (e) fair among equals: fewer than ${floor} of ${picks} picks: ${got}`)
      }
    }),
    { numRuns: Math.max(5, Math.ceil(numRuns / 5)), seed, includeErrorInReport: true }
  )
}
