/**
 * Ollama's guard against DNS rebinding (server/routes.go `allowedHostsMiddleware`): while the gateway listens on a
 * loopback address, a request whose `Host` names anything but a loopback, private, unspecified or local-interface
 * address, `localhost`, this machine's hostname or a `.localhost`/`.local`/`.internal` name is refused with 403.
 * A web page whose own name was re-pointed at 127.0.0.1 therefore cannot drive the cluster from a browser, which
 * auth (off by default on loopback) would not stop. Listening elsewhere, every `Host` is accepted, as in Ollama.
 * `extra` names more hosts to accept (a reverse proxy's public name; `*.corp.example` for a whole domain); `*` turns
 * the check off.
 */
import type { IncomingMessage } from "node:http"
import { BlockList, isIP } from "node:net"
import { hostname, networkInterfaces } from "node:os"

/** Whether a listen address is loopback only. */
export const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "::1" || host.startsWith("127.") || host.startsWith("::ffff:127.")

const LOCAL_TLDS = [".localhost", ".local", ".internal"]

/** Loopback, private (RFC 1918, unique-local) and unspecified ranges, plus this machine's own addresses. */
const localAddresses = (): BlockList => {
  const list = new BlockList()
  list.addSubnet("127.0.0.0", 8, "ipv4")
  list.addSubnet("10.0.0.0", 8, "ipv4")
  list.addSubnet("172.16.0.0", 12, "ipv4")
  list.addSubnet("192.168.0.0", 16, "ipv4")
  list.addAddress("0.0.0.0", "ipv4")
  list.addAddress("::1", "ipv6")
  list.addAddress("::", "ipv6")
  list.addSubnet("fc00::", 7, "ipv6")
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) list.addAddress(a.address.split("%")[0]!, a.family === "IPv6" ? "ipv6" : "ipv4")
  }
  return list
}

/** The host part of a `Host` header: `[::1]:8000` → `::1`, `gpu-1:8000` → `gpu-1`; lower-cased. */
export const hostOf = (header: string): string => {
  const h = header.trim().toLowerCase()
  if (h.startsWith("[")) {
    const end = h.indexOf("]")
    return end < 0 ? h : h.slice(1, end)
  }
  const colon = h.indexOf(":")
  // one colon: host:port; more: an IPv6 address written without brackets
  return colon >= 0 && h.indexOf(":", colon + 1) < 0 ? h.slice(0, colon) : h
}

/**
 * A check of `req`'s `Host` for a gateway listening on `listenHost`, or undefined when nothing is checked (not
 * loopback, or `extra` holds `*`).
 */
export const makeHostGuard = (
  listenHost: string,
  extra: ReadonlyArray<string> = []
): ((req: IncomingMessage) => boolean) | undefined => {
  if (!isLoopbackHost(listenHost) || extra.includes("*")) return undefined
  const local = localAddresses()
  const machine = hostname().toLowerCase()
  const names = extra.map((h) => h.toLowerCase())
  const accepted = new Set(names.filter((h) => !h.startsWith("*.")))
  // `*.corp.example`: any name under that domain
  const domains = names.filter((h) => h.startsWith("*.")).map((h) => h.slice(1))
  const allowed = (host: string): boolean => {
    if (host === "" || host === "localhost" || host === machine || accepted.has(host)) return true
    if (domains.some((d) => host.endsWith(d))) return true
    const family = isIP(host)
    if (family !== 0) {
      const mapped = host.startsWith("::ffff:") && isIP(host.slice(7)) === 4
      return mapped ? local.check(host.slice(7), "ipv4") : local.check(host, family === 6 ? "ipv6" : "ipv4")
    }
    return LOCAL_TLDS.some((tld) => host.endsWith(tld))
  }
  // one Host header per connection is the norm: remember the last answer
  let lastHeader: string | undefined
  let lastAnswer = true
  return (req) => {
    const header = req.headers.host ?? ""
    if (header === lastHeader) return lastAnswer
    lastAnswer = allowed(hostOf(header))
    lastHeader = header
    return lastAnswer
  }
}
