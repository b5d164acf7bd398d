/**
 * Hardware profiles for simulated nodes, with figures from ollama-api.md §9 (geerlingguy/ai-benchmarks,
 * XiongjieDai GPU benchmarks, Ollama's docs): decode and prefill rates, load times, memory per model.
 */
import { normalizeModel } from "../domain/Model.js"
import { hexDigest } from "./rng.js"

export interface SimModelSpec {
  /** Normalised name (`normalizeModel`), e.g. `llama3.2:3b`. */
  readonly name: string
  readonly kind: "llm" | "embedding"
  /** Output tokens per second for one stream (slowed ×n^-0.25 with n concurrent decoders). */
  readonly decodeTps: number
  /** Prompt tokens per second. */
  readonly prefillTps: number
  /** Cold load time in simulated ms. */
  readonly loadMs: number
  /** Memory the loaded model takes, counted against the profile's `vramBudgetMb`. */
  readonly vramMb: number
  /** Vector length of embeddings (`embedding_length`). */
  readonly embeddingDim: number
  /** As `/api/tags` shows it, e.g. `3.2B`. */
  readonly parameterSize: string
  /** E.g. `Q4_K_M`. */
  readonly quantization: string
  /** E.g. `llama`. */
  readonly family: string
  /** 64 hex digits, no `sha256:` prefix; the same on every node for the same model. */
  readonly digest: string
  /**
   * The weights file when it is not the one `digest` names: a model made by `/api/create` has a manifest (digest)
   * of its own over its base's weights, so it runs in its base's runner. Absent: `digest`.
   */
  readonly weights?: string
  /** Training context length. */
  readonly contextLength: number
}

export interface SimProfile {
  readonly name: ProfileName
  /** Parallel slots per loaded LLM (OLLAMA_NUM_PARALLEL-like): 4 on GPUs, 2 on CPU. Embedding models get 1. */
  readonly slots: number
  /** Models run in GPU memory; false: in system RAM, which `/api/ps` shows as `size_vram: 0` ("100% CPU"). */
  readonly gpu: boolean
  /** Requests that may wait for a slot or a load (OLLAMA_MAX_QUEUE-like); past it: 503 "server busy". */
  readonly maxQueue: number
  /** Memory for loaded models; loading past it evicts idle models, least recently used first. */
  readonly vramBudgetMb: number
  /** The catalogue this hardware can run, keyed by normalised name. */
  readonly models: Readonly<Record<string, SimModelSpec>>
}

export type ProfileName = "gpu-datacenter" | "gpu-consumer" | "cpu"

interface Base {
  readonly kind: "llm" | "embedding"
  readonly vramMb: number
  readonly embeddingDim: number
  readonly parameterSize: string
  readonly quantization: string
  readonly family: string
  readonly contextLength: number
}

const bases: Record<string, Base> = {
  "llama3.2:3b": { kind: "llm", vramMb: 2600, embeddingDim: 3072, parameterSize: "3.2B", quantization: "Q4_K_M", family: "llama", contextLength: 131072 },
  "qwen2.5:7b": { kind: "llm", vramMb: 5600, embeddingDim: 3584, parameterSize: "7.6B", quantization: "Q4_K_M", family: "qwen2", contextLength: 32768 },
  "mistral:7b": { kind: "llm", vramMb: 5200, embeddingDim: 4096, parameterSize: "7.2B", quantization: "Q4_0", family: "llama", contextLength: 32768 },
  "nomic-embed-text": { kind: "embedding", vramMb: 600, embeddingDim: 768, parameterSize: "137M", quantization: "F16", family: "nomic-bert", contextLength: 2048 },
  "all-minilm": { kind: "embedding", vramMb: 120, embeddingDim: 384, parameterSize: "23M", quantization: "F16", family: "bert", contextLength: 512 }
}

/** [decodeTps, prefillTps, loadMs] per base model. */
type Rates = Readonly<Record<keyof typeof bases, readonly [number, number, number]>>

const build = (rates: Rates): Record<string, SimModelSpec> => {
  const out: Record<string, SimModelSpec> = {}
  const add = (alias: string, base: string) => {
    const b = bases[base]
    const r = rates[base]
    if (b === undefined || r === undefined) return
    const name = normalizeModel(alias)
    // Tags of one model share a digest (as `llama3.2:latest` and `llama3.2:3b` do in Ollama).
    out[name] = { ...b, name, decodeTps: r[0], prefillTps: r[1], loadMs: r[2], digest: hexDigest(normalizeModel(base)) }
  }
  for (const base of Object.keys(bases)) add(base, base)
  add("llama3.2", "llama3.2:3b")
  return out
}

export const profiles: Readonly<Record<ProfileName, SimProfile>> = {
  /** A100/H100 class: llama3.2:3b ≈ 300 tok/s, 8B ≈ 140 tok/s, prefill 7k–20k tok/s. */
  "gpu-datacenter": {
    name: "gpu-datacenter",
    slots: 4,
    gpu: true,
    maxQueue: 64,
    vramBudgetMb: 80_000,
    models: build({
      "llama3.2:3b": [300, 20_000, 1800],
      "qwen2.5:7b": [145, 7000, 3000],
      "mistral:7b": [140, 6500, 3000],
      "nomic-embed-text": [0, 20_000, 500],
      "all-minilm": [0, 40_000, 300]
    })
  },
  /** RTX 3060/3070 class with 12 GB: llama3.2:3b ≈ 130 tok/s, 7B ≈ 70 tok/s. */
  "gpu-consumer": {
    name: "gpu-consumer",
    slots: 4,
    gpu: true,
    maxQueue: 64,
    vramBudgetMb: 12_000,
    models: build({
      "llama3.2:3b": [130, 8000, 2500],
      "qwen2.5:7b": [70, 3500, 4500],
      "mistral:7b": [68, 3300, 4500],
      "nomic-embed-text": [0, 8000, 600],
      "all-minilm": [0, 15_000, 400]
    })
  },
  /** A desktop CPU with 16 GB: llama3.2:3b ≈ 18 tok/s, 7B ≈ 8 tok/s, prefill tens to ~100 tok/s. */
  cpu: {
    name: "cpu",
    slots: 2,
    gpu: false,
    maxQueue: 32,
    vramBudgetMb: 16_000,
    models: build({
      "llama3.2:3b": [18, 100, 3500],
      "qwen2.5:7b": [8, 35, 6000],
      "mistral:7b": [8, 35, 6000],
      "nomic-embed-text": [0, 800, 500],
      "all-minilm": [0, 1500, 300]
    })
  }
}

export const profileNames = Object.keys(profiles) as ReadonlyArray<ProfileName>

export const isProfileName = (s: string): s is ProfileName => s in profiles
