/**
 * The dashboard in a real browser (playwright-core driving Debian's Chromium): three sim nodes with traffic, live
 * decisions, and a node fault that turns its row to excluded. Saves a screenshot for the README.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import type { BrowserContext } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster } from "../support/cluster.js"
import type { Cluster } from "../support/cluster.js"

const CHROMIUM = "/usr/bin/chromium"
const prompts = [
  "Summarize the history of the printing press in three sentences.",
  "Classify this review as positive or negative: the battery died after a day.",
  "Write a haiku about load balancers.",
  "Extract the dates from: we met on 3 May and again on 9 June."
]

describe("dashboard in Chromium", () => {
  let cluster: Cluster
  let browser: BrowserContext
  let userDir: string
  let sending = true
  let traffic: Promise<void> = Promise.resolve()

  const chat = (i: number) =>
    fetch(`${cluster.url}/api/chat`, {
      method: "POST",
      headers: { "x-sollol-priority": String(1 + (i % 10)) },
      body: JSON.stringify({
        model: "llama3.2:3b",
        stream: false,
        messages: [{ role: "user", content: prompts[i % prompts.length] }],
        options: { num_predict: 16 + (i % 4) * 8 }
      })
    })

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; see .ci/run)`)
    }
    cluster = await startCluster({ timeScale: 20 })
    userDir = mkdtempSync(join(tmpdir(), "sollol-chromium-"))
    browser = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    })
    // Background traffic: two clients in a loop until the test ends.
    const loop = async (offset: number) => {
      for (let i = offset; sending; i += 2) await (await chat(i)).arrayBuffer().catch(() => undefined)
    }
    traffic = Promise.all([loop(0), loop(1)]).then(() => undefined)
  })

  afterAll(async () => {
    sending = false
    await traffic.catch(() => undefined)
    await browser?.close()
    await cluster?.close()
    if (userDir !== undefined) rmSync(userDir, { recursive: true, force: true })
  })

  it("shows the nodes and their states, live decisions, and an excluded node within seconds", async () => {
    const page = await browser.newPage()
    const foreign: Array<string> = []
    page.on("request", (r) => {
      if (!r.url().startsWith(cluster.url) && !r.url().startsWith("data:")) foreign.push(r.url())
    })
    const errors: Array<string> = []
    page.on("pageerror", (e) => void errors.push(e.message))
    await page.goto(`${cluster.url}/dashboard`)

    for (const name of ["fast-gpu", "mid-gpu", "cpu"]) {
      await page.waitForSelector(`tr[data-node="${name}"][data-health="healthy"]`, { timeout: 10_000 })
    }
    expect(await page.locator("tr[data-node]").count()).toBe(3)
    await page.waitForSelector("#conn.on", { timeout: 10_000 })

    // A request sent now appears in the live decisions, with its reasoning.
    const res = await chat(3)
    const requestId = res.headers.get("x-sollol-request-id")!
    await res.arrayBuffer()
    const row = page.locator(`.decision[data-request="${requestId}"]`)
    await row.waitFor({ timeout: 10_000 })
    expect(await row.locator(".why").textContent()).not.toBe("")

    // A refused node is excluded by the probes and its row turns red within seconds.
    await fetch(`${cluster.nodes[2]!.url}/__sim/fault`, { method: "POST", body: JSON.stringify({ mode: "refuse" }) })
    await page.waitForSelector(`tr[data-node="cpu"][data-health="excluded"]`, { timeout: 8_000 })
    await page.waitForSelector(`#alerts li[data-alert="node.excluded:cpu"]`, { timeout: 8_000 })
    // The table is re-rendered every second, so read the colour inside the page in one step (a handle taken
    // first may be detached by the time it is read).
    const red = await page.waitForFunction(() => {
      const pill = document.querySelector(`tr[data-node="cpu"] .pill`)
      return pill !== null && getComputedStyle(pill).color === "rgb(239, 68, 68)"
    }, undefined, { timeout: 5_000 })
    expect(await red.jsonValue()).toBe(true)

    // Let the charts gather a few seconds of points, then keep a screenshot with the test output and for the README.
    await page.waitForFunction(() => document.querySelectorAll("#throughput-chart polyline").length > 0, undefined, {
      timeout: 10_000
    })
    await page.waitForTimeout(3_000)
    mkdirSync("test-output", { recursive: true })
    await page.screenshot({ path: "test-output/dashboard.png", fullPage: true })
    // The README's picture is refreshed on request only, so a test run leaves the work tree clean.
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") {
      mkdirSync("docs", { recursive: true })
      copyFileSync("test-output/dashboard.png", "docs/dashboard.png")
    }
    expect(foreign).toEqual([])
    expect(errors).toEqual([])
  })
})
