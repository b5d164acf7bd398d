/** Hop-by-hop headers never cross the gateway, including those a `Connection` header names. */
import { describe, expect, it } from "vitest"
import { forwardRequestHeaders, forwardResponseHeaders } from "../../src/runtime/headers.js"

describe("header hygiene", () => {
  it("drops hop-by-hop headers from a keep-alive response and keeps the rest", () => {
    const out = forwardResponseHeaders({
      connection: "keep-alive",
      "keep-alive": "timeout=5",
      "content-length": "12",
      "content-type": "application/json",
      "set-cookie": ["a=1", "b=2"]
    })
    expect(out).toEqual({ "content-type": "application/json", "set-cookie": ["a=1", "b=2"] })
  })

  it("drops the headers a Connection header lists, in any case", () => {
    const out = forwardResponseHeaders({ connection: "close, X-Trace", "x-trace": "1", close: "x", date: "today" })
    expect(out).toEqual({ date: "today" })
    const req = forwardRequestHeaders({ connection: "x-hop", "x-hop": "1", "user-agent": "t", authorization: "k" })
    expect(req).toEqual({ "user-agent": "t", "content-type": "application/json" })
  })
})
