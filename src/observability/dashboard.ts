/** Serves `/dashboard`: the self-contained page, with a CSP that forbids any request beyond this gateway. */
import type { IncomingMessage, ServerResponse } from "node:http"
import { dashboardHtml } from "../dashboard/page.js"

const body = Buffer.from(dashboardHtml, "utf8")

export const dashboardHandler = (req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": body.length,
    "cache-control": "no-store",
    "content-security-policy":
      "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
  })
  res.end(req.method === "HEAD" ? undefined : body)
}
