#!/usr/bin/env node
import("../dist/cli/main.js").catch((error) => {
  console.error(error)
  process.exit(1)
})
