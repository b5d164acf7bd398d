/**
 * How an embedded call that did not answer ends, as a SollolError. Tagged errors get the gateway's status and
 * message (src/http/errorResponse.ts); 499 means only that the caller aborted; a closed instance answers 503.
 */
import { Cause, Exit } from "effect"
import { SollolError } from "../client/SollolError.js"
import type { GatewayError } from "../domain/errors.js"
import { errorResponse, messageOf } from "../http/errorResponse.js"
import type { UnknownStrategy } from "../strategies/catalog.js"

/** What a runtime call can fail with: a request's tagged errors, or (the runtime not built) an unknown strategy. */
export type CallFailure = GatewayError | UnknownStrategy

/** Who interrupted a running call: the caller (its signal, or leaving a stream early) or `close()`. */
export type StoppedBy = "caller" | "close"

const withId = (requestId: string | undefined) => (requestId !== undefined ? { requestId } : {})

/** A call made once `close()` was called. */
export const closedError = (): SollolError => new SollolError({ status: 503, message: "this Sollol instance is closed" })

/** The answer a tagged error gets at the gateway. */
export const gatewayError = (error: GatewayError, requestId?: string): SollolError =>
  new SollolError({ status: errorResponse(error).status, message: messageOf(error), ...withId(requestId) })

/**
 * A call's failure: an interruption is 499 when the caller stopped it and 503 when `close()` did; a tagged failure
 * is mapped as the gateway maps it; anything else (a defect, such as a strategy that throws) is 500.
 */
export const causeError = (
  cause: Cause.Cause<CallFailure>,
  stoppedBy: StoppedBy | undefined,
  requestId?: string
): SollolError => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    return failure.value._tag === "UnknownStrategy"
      ? new SollolError({ status: 500, message: failure.value.message, ...withId(requestId) })
      : gatewayError(failure.value, requestId)
  }
  if (Cause.isInterrupted(cause) && stoppedBy === "caller") {
    return new SollolError({ status: 499, message: "request aborted", ...withId(requestId) })
  }
  if (Cause.isInterrupted(cause) && stoppedBy === "close") {
    return new SollolError({ status: 503, message: "closed before the request finished", ...withId(requestId) })
  }
  const defect = Cause.isInterruptedOnly(cause) ? "the request was interrupted" : Cause.squash(cause)
  return new SollolError({
    status: 500,
    message: `internal error: ${defect instanceof Error ? defect.message : String(defect)}`,
    ...withId(requestId)
  })
}

/** How a call ends when its fiber exits without having answered. */
export const exitError = (
  exit: Exit.Exit<unknown, CallFailure>,
  stoppedBy: StoppedBy | undefined,
  requestId?: string
): SollolError =>
  Exit.isSuccess(exit)
    ? new SollolError({ status: 500, message: "internal error: the request ended without an answer", ...withId(requestId) })
    : causeError(exit.cause, stoppedBy, requestId)
