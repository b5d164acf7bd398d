/**
 * The JSON body of a control-plane request (node admin, key admin), read under the gateway's body limit as the
 * inference routes are: 413 over `limits.maxBodyBytes`, 400 when it is not JSON.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Option } from "effect"

const error = (status: number, message: string) => HttpServerResponse.unsafeJson({ error: message }, { status })

/** The parsed body, or the error answer to send instead. */
export const jsonBody = (maxBytes: number): Effect.Effect<Either.Either<unknown, HttpServerResponse.HttpServerResponse>, never, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Number(request.headers["content-length"] ?? -1) > maxBytes) {
      return Either.left(error(413, `request body too large (limit ${maxBytes} bytes)`))
    }
    const body = yield* Effect.either(HttpIncomingMessage.withMaxBodySize(request.json, Option.some(maxBytes)))
    if (Either.isRight(body)) return Either.right(body.right)
    const tooLarge = String(body.left.cause ?? "").includes("maxBytes exceeded")
    return Either.left(tooLarge ? error(413, `request body too large (limit ${maxBytes} bytes)`) : error(400, "invalid JSON body"))
  })
