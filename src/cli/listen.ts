/** Why a server could not listen, in one line: `cannot listen on 127.0.0.1:8000: address already in use`. */
import { createServer } from "node:net"

const reasons: Readonly<Record<string, string>> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host"
}

const hostPort = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`

/** The line for a failed `listen` (a Node error with a `code`); `undefined` for any other error. */
export const listenFailure = (error: unknown, host: string, port: number): string | undefined => {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
  if (typeof code !== "string" || !code.startsWith("E")) return undefined
  const message = error instanceof Error ? error.message : code
  return `cannot listen on ${hostPort(host, port)}: ${reasons[code] ?? message}`
}

/**
 * Binds `host:port` once and lets go, so a command whose server cannot report a failed `listen` (the simulated
 * node's) can say why before it starts. Resolves to the `listenFailure` line, or `undefined` when the port is free.
 */
export const checkCanListen = (host: string, port: number): Promise<string | undefined> =>
  port === 0 ? Promise.resolve(undefined) : new Promise((resolve) => {
    const probe = createServer()
    probe.once("error", (error) => resolve(listenFailure(error, host, port) ?? String(error)))
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)))
  })
