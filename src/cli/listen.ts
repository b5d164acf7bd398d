/** Why a server could not listen, in one line: `cannot listen on 127.0.0.1:8000: address already in use`. */
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
