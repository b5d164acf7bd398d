#!/usr/bin/env node
/**
 * npm's `prepare`: builds dist/ unless it is newer than every source. npm runs `prepare` after `npm ci`, and again
 * when the first `npx sollol` in a checkout installs the package into npx's cache; that second build would recompile
 * the same sources and add about 10 s to the first start. `npm run build` always builds.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The newest modification time under `path` (itself included), in ms. */
const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((latest, entry) => Math.max(latest, newest(join(path, entry))), stat.mtimeMs)
}

const output = join(root, "dist", "index.js")
const inputs = ["src", "tsconfig.json", "tsconfig.build.json", "package.json"].map((p) => join(root, p))
const upToDate = existsSync(output) && statSync(output).mtimeMs > Math.max(...inputs.map(newest))

if (upToDate) console.log("sollol: dist/ is newer than its sources; not rebuilding")
else execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" })
