/**
 * `/api/copy` and `/api/create` (server/routes.go `CopyHandler`, server/create.go `CreateHandler`): new tags over
 * weights the node already has. A copy writes the source's manifest under another name: the same digest, so one
 * runner. A create `from` an installed model writes a manifest of its own (a new digest, the `from` model as
 * `parent_model`, its own system/template/parameters layers) over the base's weights, so it runs in the base's
 * runner at the base's speed. A `from` the node lacks is pulled first, as Ollama does. The simulator keeps uploaded
 * blobs by digest only, so `files` fail where Ollama fails on a missing blob, or on one that is no model file.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { normalizeModel } from "../domain/Model.js"
import { blobKey } from "./blobRoutes.js"
import { runnerOf } from "./engine.js"
import { goQuote, isValidName } from "./modelName.js"
import { pullModel } from "./modelRoutes.js"
import { makeProgress } from "./progress.js"
import { modelOf, nowMs } from "./simContext.js"
import type { SimContext, SimModel } from "./simContext.js"
import { bindError } from "../domain/goJson.js"
import { goJson, obj, ollamaError, str } from "./wire.js"
import type { Reply } from "./wire.js"

type Body = Record<string, unknown>

const install = (ctx: SimContext, model: SimModel, atMs: number) => {
  ctx.installed.add(model.spec.name)
  ctx.installedAt.set(model.spec.name, atMs)
  ctx.local.set(model.spec.name, model)
}

export const copy = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.flatMap(nowMs, (now) => {
    const bad = bindError("CopyRequest", body, { source: "string", destination: "string" })
    if (bad !== undefined) return ollamaError(reply, 400, bad)
    const source = str(body["source"]) ?? ""
    const destination = str(body["destination"]) ?? ""
    if (!isValidName(source)) return ollamaError(reply, 400, `source ${goQuote(source)} is invalid`)
    if (!isValidName(destination)) return ollamaError(reply, 400, `destination ${goQuote(destination)} is invalid`)
    const m = modelOf(ctx, normalizeModel(source))
    if (m === undefined) return ollamaError(reply, 404, `model ${goQuote(source)} not found`)
    install(ctx, { ...m, spec: { ...m.spec, name: normalizeModel(destination) } }, now)
    return reply.head(200, { "content-length": "0" })
  })

const CREATE_FIELDS = {
  model: "string",
  name: "string",
  from: "string",
  template: "string",
  system: "string",
  quantize: "string",
  quantization: "string",
  files: "map[string]string",
  adapters: "map[string]string",
  parameters: "map[string]interface {}",
  stream: "bool"
} as const

/** Where a Linux service install keeps blobs (`OLLAMA_MODELS` unset); `BlobsPath` turns `sha256:` into `sha256-`. */
const blobPath = (digest: string) => `/usr/share/ollama/.ollama/models/blobs/${digest.replace(":", "-")}`
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

/** `validateCreateFiles`: a relative path (`fs.ValidPath`, no `\` or `:`) and a well-formed digest, else the error. */
const fileError = (path: string, digest: string): string | undefined => {
  const relative = path !== "." && !/[\\:]/.test(path) && path.split("/").every((e) => e !== "" && e !== "." && e !== "..")
  if (!relative) return `file path must be relative: ${path}`
  if (digest === "") return "invalid digest format"
  return blobKey(digest) !== undefined ? undefined : `invalid digest for ${path}: invalid digest format`
}

/** `detectModelTypeFromFiles`: by extension, else by reading the blob, which the simulator never has. */
const fileType = (files: ReadonlyArray<readonly [string, string]>): { readonly type: string } | { readonly error: string } => {
  let type = ""
  for (const [path, digest] of files) {
    const t = path.endsWith(".safetensors") ? "safetensors" : path.endsWith(".gguf") ? "gguf" : undefined
    if (t === undefined) return { error: `blob not found for ${path} (digest ${digest}): open ${blobPath(digest)}: no such file or directory` }
    if (type !== "" && type !== t) return { error: `mixed model file types: found both ${type} and ${t} inputs` }
    type = t
  }
  return { type }
}

const QUANTIZE_GGUF =
  "create-time quantization is only supported for safetensors imports; quantize GGUF models with llama.cpp tools before importing"
const QUANT_TYPES = ["int4", "int8", "nvfp4", "mxfp4", "mxfp8"]

/** The params blob as `json.Encoder` writes a map: keys sorted, a newline after. */
const paramsBlob = (parameters: SimModel["parameters"]) =>
  goJson(Object.fromEntries(Object.keys(parameters).sort().map((k) => [k, parameters[k]]))) + "\n"

/** A model's layer digests: weights, then the template, system and parameters blobs it has. */
const layersOf = (m: SimModel): ReadonlyArray<string> => [
  runnerOf(m.spec),
  ...(m.template === "" ? [] : [sha256(m.template)]),
  ...(m.system === "" ? [] : [sha256(m.system)]),
  ...(Object.keys(m.parameters).length === 0 ? [] : [sha256(paramsBlob(m.parameters))])
]

/** The model `createModel` writes over `base`: its layers with the request's replacing the base's, merged parameters. */
const derive = (base: SimModel, body: Body, name: string, parent: string): SimModel => {
  const made = {
    parent,
    template: str(body["template"]) || base.template,
    system: str(body["system"]) || base.system,
    parameters: { ...base.parameters, ...obj(body["parameters"]) }
  }
  // The manifest names its base in each inherited layer's `from`, so even a bare copy-by-create gets a digest of its own.
  const digest = sha256(goJson({ from: parent, layers: layersOf({ spec: base.spec, ...made }) }))
  return { spec: { ...base.spec, name, digest, weights: runnerOf(base.spec) }, ...made }
}

export const create = (ctx: SimContext, reply: Reply, body: Body) =>
  Effect.gen(function*() {
    // Checks CreateHandler makes before it streams anything: 400 with `application/json; charset=utf-8`.
    const refuse = (message: string) => ollamaError(reply, 400, message)
    const bad = bindError("CreateRequest", body, CREATE_FIELDS)
    if (bad !== undefined) return yield* refuse(bad)
    const parameters = obj(body["parameters"])
    const typicalP = parameters?.["typical_p"]
    if (typicalP !== undefined && typicalP !== null) {
      return yield* refuse("typical_p is deprecated and cannot be set as a model parameter; pass it as a request option instead")
    }
    const filesBody = obj(body["files"])
    const files = Object.entries(filesBody ?? {})
      .map(([path, digest]) => [path, str(digest) ?? ""] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [path, digest] of files) {
      const why = fileError(path, digest)
      if (why !== undefined) return yield* refuse(why)
    }
    if (Object.keys(obj(body["adapters"]) ?? {}).length > 0) return yield* refuse("LoRA adapters are no longer supported")
    const raw = str(body["model"]) || str(body["name"]) || ""
    if (!isValidName(raw)) return yield* refuse("invalid model name")
    const kind = fileType(files)
    if ("error" in kind) return yield* refuse(kind.error)
    const from = str(body["from"]) ?? ""
    const quantize = str(body["quantize"]) || str(body["quantization"]) || ""
    if ((kind.type === "gguf" || (kind.type === "" && from !== "")) && quantize !== "") return yield* refuse(QUANTIZE_GGUF)
    if (kind.type !== "gguf" && quantize !== "" && !QUANT_TYPES.includes(quantize.toLowerCase())) {
      return yield* refuse(`unsupported quantize type ${goQuote(quantize)}: supported types are ${QUANT_TYPES.join(", ")}`)
    }

    // The rest runs as Ollama's create goroutine: progress lines, or with `stream:false` only the last one.
    const progress = makeProgress(reply, body["stream"] !== false)
    if (kind.type === "safetensors") {
      if (from !== "") return yield* progress.fail("safetensors imports do not support FROM model overlays", 400)
      const [path, digest] = files[0]!
      return yield* progress.fail(`blob not found for ${path} (digest ${digest}): stat ${blobPath(digest)}: no such file or directory`, 400)
    }
    if (from === "") {
      if (filesBody === undefined) return yield* progress.fail("neither 'from' or 'files' was specified", 400)
      const first = files[0]
      if (first === undefined) return yield* progress.fail("unknown type", 400)
      yield* progress.send({ status: "parsing GGUF" })
      // an uploaded blob is found, but the simulator reads no model file: what Ollama says of bytes that are not GGUF
      const key = blobKey(first[1])
      if (key !== undefined && ctx.blobs.has(key)) return yield* progress.fail("invalid file magic")
      return yield* progress.fail(`open ${blobPath(first[1])}: no such file or directory`)
    }
    if (!isValidName(from)) return yield* progress.fail("invalid model name", 400)
    const fromName = normalizeModel(from)
    if (modelOf(ctx, fromName) === undefined && !(yield* pullModel(ctx, progress, fromName))) return
    const base = modelOf(ctx, fromName)
    if (base === undefined) return yield* progress.fail(`model ${goQuote(from)} not found`)
    const known = new Set([...ctx.installed].flatMap((n) => {
      const m = modelOf(ctx, n)
      return m === undefined ? [] : layersOf(m)
    }))
    const made = derive(base, body, normalizeModel(raw), fromName)
    for (const layer of layersOf(made)) {
      yield* progress.send({ status: `${known.has(layer) ? "using existing" : "creating new"} layer sha256:${layer}` })
    }
    yield* progress.send({ status: "writing manifest" })
    install(ctx, made, yield* nowMs)
    yield* progress.send({ status: "success" })
    yield* progress.end
  })
