/**
 * What both Promise APIs check before a call leaves the caller: the request must be a JSON object and a batch an
 * array of strings. A value JSON cannot carry (a cycle, a BigInt) or a missing field is the caller's mistake, so it
 * is a SollolError 400, as the gateway would answer the same body.
 */
import { SollolError } from "./SollolError.js"

const invalid = (message: string) => new SollolError({ status: 400, message: `invalid request: ${message}` })

/** Throws SollolError 400 unless the request is a JSON object whose `stream`, if any, is a boolean. */
export const checkRequest = (request: unknown): void => {
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    throw invalid("the request must be an object")
  }
  let stream: unknown
  try {
    stream = (request as { stream?: unknown }).stream
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error))
  }
  if (stream !== undefined && typeof stream !== "boolean") throw invalid(`stream: Expected boolean, actual ${JSON.stringify(stream)}`)
}

/** The request as JSON text; throws SollolError 400 for a non-object or a value JSON cannot encode. */
export const requestJson = (request: unknown): string => {
  checkRequest(request)
  try {
    return JSON.stringify(request)
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error))
  }
}

/** A batch's documents, model and size; throws SollolError 400 unless the documents are strings and a model is named. */
export const checkBatch = (documents: unknown, options: unknown): void => {
  const model = typeof options === "object" && options !== null ? (options as { model?: unknown }).model : undefined
  if (typeof model !== "string" || model.trim() === "") throw new SollolError({ status: 400, message: "model is required" })
  const batchSize = (options as { batchSize?: unknown }).batchSize
  if (batchSize !== undefined && !(typeof batchSize === "number" && Number.isInteger(batchSize) && batchSize > 0)) {
    throw invalid("batchSize must be a whole number of documents, 1 or more")
  }
  if (!Array.isArray(documents)) throw invalid("documents must be an array of strings")
  const i = documents.findIndex((d) => typeof d !== "string")
  if (i >= 0) throw invalid(`documents.${i}: expected a string, got ${documents[i] === null ? "null" : typeof documents[i]}`)
}

/** A thrown value as the SollolError a call rejects with: a caller's mistake keeps its status, anything else is 500. */
export const asSollolError = (error: unknown): SollolError =>
  error instanceof SollolError
    ? error
    : new SollolError({ status: 500, message: `internal error: ${error instanceof Error ? error.message : String(error)}` })
