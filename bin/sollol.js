#!/usr/bin/env node
// serve and demo reload their config on SIGHUP; until their handler is installed (loading the modules takes a
// moment), a SIGHUP must not end them as Node's default action would
const longRunning = process.argv[2] === "serve" || process.argv[2] === "demo"
if (longRunning) process.on("SIGHUP", () => {})
import("../dist/cli/main.js").catch((error) => {
  console.error(error)
  process.exit(1)
})
