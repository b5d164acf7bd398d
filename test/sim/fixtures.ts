/** A small profile with round figures so expected durations are easy to state. */
import type { SimModelSpec, SimProfile } from "../../src/sim/profiles.js"
import { hexDigest } from "../../src/sim/rng.js"

const spec = (name: string, over: Partial<SimModelSpec> = {}): SimModelSpec => ({
  name,
  kind: "llm",
  decodeTps: 100,
  prefillTps: 1000,
  loadMs: 2000,
  vramMb: 600,
  embeddingDim: 8,
  parameterSize: "1B",
  quantization: "Q4_K_M",
  family: "llama",
  digest: hexDigest(name),
  contextLength: 4096,
  ...over
})

/** 2 slots, queue of 2, room for one 600 MB model plus the embedding model. */
export const testProfile: SimProfile = {
  name: "cpu",
  slots: 2,
  gpu: false,
  maxQueue: 2,
  vramBudgetMb: 1000,
  models: {
    "tiny:latest": spec("tiny:latest"),
    // another tag of the same model file
    "tiny:1b": spec("tiny:1b", { digest: hexDigest("tiny:latest") }),
    "other:latest": spec("other:latest", { loadMs: 1000 }),
    "emb:latest": spec("emb:latest", { kind: "embedding", decodeTps: 0, prefillTps: 100, loadMs: 500, vramMb: 100 })
  }
}

/** A prompt of exactly `tokens` tokens (4 characters each). */
export const promptOf = (tokens: number, fill = "abcd") => fill.repeat(tokens)
