/**
 * API-key administration over HTTP (`/api/sollol/admin/keys`), taking the same inputs as `sollol keys`. The raw key
 * appears once, in the creation response; listings and errors name keys by name or prefix only.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Either, Schema } from "effect"
import * as ApiKeys from "../runtime/ApiKeys.js"
import type { CreateKeyInput, KeyAdminError } from "../runtime/ApiKeys.js"
import type { StoreError } from "../runtime/Store.js"

export const KEYS_PATH = "/api/sollol/admin/keys"

const error = (status: number, message: string) => HttpServerResponse.unsafeJson({ error: message }, { status })

/** A list as a JSON array or a comma-separated string (as on the command line). */
const StringList = Schema.Union(Schema.Array(Schema.String), Schema.String)

/** `POST` body: the `sollol keys create` flags as JSON fields. */
export const CreateKeyBody = Schema.Struct({
  name: Schema.String,
  role: Schema.String,
  /** Extra permissions beyond the role's. */
  permissions: Schema.optional(StringList),
  rpm: Schema.optional(Schema.Number),
  tpm: Schema.optional(Schema.Number),
  max_priority: Schema.optional(Schema.Number),
  models: Schema.optional(StringList),
  /** Lifetime such as `30d`, `12h`, `90m`. */
  expires: Schema.optional(Schema.String)
})

const listOf = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined =>
  value === undefined
    ? undefined
    : (typeof value === "string" ? value.split(",") : value).map((s) => s.trim()).filter((s) => s !== "")

/** The body as `CreateKeyInput`, or the message of a 400. */
export const toCreateInput = (body: typeof CreateKeyBody.Type): Either.Either<CreateKeyInput, string> => {
  if (!ApiKeys.isRole(body.role)) return Either.left(`role must be one of ${ApiKeys.roles.join(", ")}`)
  const extra = listOf(body.permissions) ?? []
  const unknown = extra.filter((p) => !ApiKeys.isPermission(p))
  if (unknown.length > 0) return Either.left(`unknown permission(s): ${unknown.join(", ")}`)
  const expiresInMs = body.expires === undefined ? undefined : ApiKeys.parseDuration(body.expires)
  if (body.expires !== undefined && expiresInMs === undefined) {
    return Either.left("expires must look like 30d, 12h, 90m, 45s or 2w")
  }
  return Either.right({
    name: body.name,
    role: body.role,
    permissions: extra.filter(ApiKeys.isPermission),
    rpm: body.rpm,
    tpm: body.tpm,
    maxPriority: body.max_priority,
    models: listOf(body.models),
    expiresInMs
  })
}

const adminError = (e: KeyAdminError | StoreError) =>
  e._tag === "StoreError"
    ? error(500, "the key store failed")
    : error(e.reason === "NotFound" ? 404 : e.reason === "Ambiguous" ? 409 : 400, e.message)

/** The router; `ApiKeys` is resolved once, when it is built. Callers check the admin permission first. */
export const makeKeysRouter = Effect.gen(function*() {
  const keys = yield* ApiKeys.ApiKeys

  const list = Effect.map(keys.list, (all) => HttpServerResponse.unsafeJson({ keys: all })).pipe(
    Effect.catchTag("StoreError", adminError)
  )

  const create = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* Effect.either(request.json)
    if (Either.isLeft(body)) return error(400, "invalid JSON body")
    const parsed = Schema.decodeUnknownEither(CreateKeyBody)(body.right)
    if (Either.isLeft(parsed)) {
      const fields = "name, role, permissions?, rpm?, tpm?, max_priority?, models?, expires?"
      return error(400, `invalid request: expected {${fields}}`)
    }
    const input = toCreateInput(parsed.right)
    if (Either.isLeft(input)) return error(400, input.left)
    const created = yield* Effect.either(keys.create(input.right))
    if (Either.isLeft(created)) return adminError(created.left)
    return HttpServerResponse.unsafeJson({ key: created.right.key, record: created.right.record }, { status: 201 })
  })

  const revoke = Effect.gen(function*() {
    const params = yield* HttpRouter.params
    const revoked = yield* Effect.either(keys.revoke(params["id"] ?? ""))
    return Either.isLeft(revoked) ? adminError(revoked.left) : HttpServerResponse.unsafeJson({ revoked: revoked.right })
  })

  return HttpRouter.empty.pipe(
    HttpRouter.get(KEYS_PATH, list),
    HttpRouter.post(KEYS_PATH, create),
    HttpRouter.del(`${KEYS_PATH}/:id`, revoke)
  )
})

/** The router as a plain node:http handler, for the gateway's route table. */
export const makeKeysHandler = Effect.flatMap(makeKeysRouter, (router) => NodeHttpServer.makeHandler(router))
