/**
 * Gateway overhead: a near-instant upstream reached directly, through SOLLOL, and through nginx (when installed),
 * for short non-streaming chats at concurrency 1, 8 and 32 and for 64-chunk token streams. Prints added p50/p99
 * latency, req/s ratios, and the gateway process's CPU µs per request and per chunk (from /proc).
 *
 * The token stream is written as Ollama writes one (each object flushed on its own, here one per event-loop turn,
 * with no decode time between them); a second stream case writes all 64 objects at once, which Ollama never does,
 * so that the proxy's own per-request cost shows instead of the upstream's pace.
 *
 * Each front is warmed up, then timed in `--rounds` rounds taken in turn (direct, SOLLOL, nginx, direct, …), and
 * every figure is the median over its rounds: a burst of load from elsewhere on a shared machine then moves one
 * round of each front, not the comparison.
 *
 * Before any case, the gateway gets `--jit-warmup` seconds of mixed load (short answers at concurrency 32 and 1,
 * token streams at 8): V8 optimises a fresh process's hot functions on background threads over its first tens of
 * thousands of requests, and until that is done those threads compete with the load for the two cores. A gateway
 * runs for days; its first seconds are not its overhead. nginx needs no warm-up and gets the same load anyway.
 *
 *   npm run build && npx tsx bench/overhead.ts [--seconds 3] [--rounds 3] [--warmup 2] [--jit-warmup 12]
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Pool } from "undici"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    warmup: { type: "string", default: "2" },
    "jit-warmup": { type: "string", default: "12" }
  }
})
/** Length of one timed round. */
const SECONDS = Number(values.seconds)
/** Timed rounds per front and case, interleaved across the fronts; each figure is the median over them. */
const ROUNDS = Math.max(1, Math.round(Number(values.rounds)))
const WARMUP_SECONDS = Number(values.warmup)
/** Mixed load before the first case, so that the gateway's JIT has settled (see the top of the file). */
const JIT_WARMUP_SECONDS = Number(values["jit-warmup"])
const CHUNKS = 64
const MODEL = "llama3.2:3b"

// ---- the upstream: answers like Ollama, instantly -------------------------------------------------------------
const startUpstream = () =>
  new Promise<number>((resolve) => {
    const finalLine = JSON.stringify({
      model: MODEL,
      created_at: "2026-11-27T00:00:00Z",
      message: { role: "assistant", content: "" },
      done: true,
      done_reason: "stop",
      total_duration: 1000000,
      load_duration: 0,
      prompt_eval_count: 5,
      prompt_eval_duration: 100000,
      eval_count: CHUNKS,
      eval_duration: 900000
    })
    const chunk = JSON.stringify({ model: MODEL, created_at: "2026-11-27T00:00:00Z", message: { role: "assistant", content: "tok" }, done: false }) + "\n"
    const short = JSON.stringify({ ...JSON.parse(finalLine), message: { role: "assistant", content: "Hello there!" } })
    const server = createServer((req, res) => {
      if (req.url === "/api/version") return res.end('{"version":"0.12.6"}')
      if (req.url === "/api/tags") {
        return res.end(JSON.stringify({ models: [{ name: MODEL, model: MODEL, digest: "d", size: 1 }] }))
      }
      if (req.url === "/api/ps") return res.end(JSON.stringify({ models: [{ name: MODEL, model: MODEL, size_vram: 1, expires_at: "2318-01-01T00:00:00Z" }] }))
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        if (body.includes('"stream":true')) {
          res.writeHead(200, { "content-type": "application/x-ndjson" })
          if (req.headers["x-bench-burst"] === "1") {
            for (let i = 0; i < CHUNKS; i++) res.write(chunk)
            return res.end(finalLine + "\n")
          }
          // as Ollama does (gin flushes after every object): each object its own write, one per event-loop turn
          let sent = 0
          const next = () => {
            if (sent++ < CHUNKS) {
              res.write(chunk)
              setImmediate(next)
            } else res.end(finalLine + "\n")
          }
          next()
        } else {
          res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(short) })
          res.end(short)
        }
      })
    })
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  })

// ---- processes under test ---------------------------------------------------------------------------------------
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const waitReady = async (url: string) => {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url)
      if (r.status < 500) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not come up`)
}

/**
 * The bench upstream answers at once and runs any number of requests in parallel, so the gateway is told so
 * (`slots`): otherwise it would queue beyond Ollama's usual 4 parallel slots and measure queueing, not proxying.
 */
const startGateway = async (upstreamPort: number) => {
  const port = await freePort()
  const config = join(mkdtempSync(join(tmpdir(), "sollol-bench-")), "sollol.json")
  writeFileSync(config, JSON.stringify({ nodes: [{ url: `http://127.0.0.1:${upstreamPort}`, slots: 256 }] }))
  const child = spawn(process.execPath, ["bin/sollol.js", "serve", "--port", String(port), "--config", config], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, SOLLOL_DB: ":memory:", SOLLOL_LOG_LEVEL: "none" }
  })
  await waitReady(`http://127.0.0.1:${port}/healthz`)
  return { port, child }
}

const startNginx = async (upstreamPort: number) => {
  const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find(existsSync)
  if (nginx === undefined) return undefined
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "sollol-nginx-"))
  writeFileSync(join(dir, "nginx.conf"), `
worker_processes 1; master_process off; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream ollama { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://ollama; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}`)
  const child = spawn(nginx, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" })
  await waitReady(`http://127.0.0.1:${port}/api/version`)
  return { port, child }
}

/** CPU time (µs) of a process so far, from /proc/<pid>/stat (utime + stime, in clock ticks of 10 ms). */
const cpuMicros = (child: ChildProcess | undefined): number => {
  if (child?.pid === undefined) return Number.NaN
  const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

// ---- the load generator -----------------------------------------------------------------------------------------
interface Result {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly cpuPerRequestUs: number
}

const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

/** What the upstream answers: one JSON body, a token stream flushed object by object, or all objects in one write. */
type Answer = "short" | "stream" | "burst"

/** Load at `concurrency` for `seconds`; with `measured`, that process's CPU over the run is charged per request. */
const run = async (
  port: number,
  concurrency: number,
  answer: Answer,
  seconds: number,
  measured?: ChildProcess
): Promise<Result> => {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 })
  const body = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hello!" }], stream: answer !== "short" })
  const headers = { "content-type": "application/json", ...(answer === "burst" ? { "x-bench-burst": "1" } : {}) }
  const one = async () => {
    const { body: b } = await pool.request({ path: "/api/chat", method: "POST", body, headers })
    for await (const _ of b) void _
  }
  const load = (until: number, latencies?: Array<number>) =>
    Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now()
        await one()
        latencies?.push(performance.now() - t)
      }
    }))
  const latencies: Array<number> = []
  const cpuBefore = cpuMicros(measured)
  await load(performance.now() + seconds * 1000, latencies)
  const cpu = cpuMicros(measured) - cpuBefore
  await pool.close()
  latencies.sort((a, b) => a - b)
  return {
    rps: latencies.length / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    requests: latencies.length,
    cpuPerRequestUs: cpu / latencies.length
  }
}

/** The median of each figure over the rounds (each figure on its own). */
const medianResult = (rounds: ReadonlyArray<Result>): Result => {
  const median = (f: (r: Result) => number) => {
    const xs = rounds.map(f).sort((a, b) => a - b)
    return xs[xs.length >> 1]!
  }
  return {
    rps: median((r) => r.rps),
    p50: median((r) => r.p50),
    p99: median((r) => r.p99),
    requests: median((r) => r.requests),
    cpuPerRequestUs: median((r) => r.cpuPerRequestUs)
  }
}

interface Front {
  readonly port: number
  readonly process?: ChildProcess
}

/**
 * One case on every front: each warmed up first (a Node.js process needs some thousands of requests at a
 * concurrency before its hot functions are optimised, nginx none), then `ROUNDS` timed rounds taken in turn.
 */
const measureCase = async (
  fronts: ReadonlyArray<readonly [string, Front]>,
  concurrency: number,
  answer: Answer
): Promise<Record<string, Result>> => {
  for (const [, front] of fronts) await run(front.port, concurrency, answer, WARMUP_SECONDS)
  const rounds = fronts.map((): Array<Result> => [])
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, [, front]] of fronts.entries()) rounds[i]!.push(await run(front.port, concurrency, answer, SECONDS, front.process))
  }
  return Object.fromEntries(fronts.map(([name], i) => [name, medianResult(rounds[i]!)]))
}

/** The mixed load of `--jit-warmup`: half short answers at 32, a quarter token streams at 8, a quarter short at 1. */
const warmJit = async (ports: ReadonlyArray<number>): Promise<number> => {
  let requests = 0
  for (const port of ports) {
    requests += (await run(port, 32, "short", JIT_WARMUP_SECONDS / 2)).requests
    requests += (await run(port, 8, "stream", JIT_WARMUP_SECONDS / 4)).requests
    requests += (await run(port, 1, "short", JIT_WARMUP_SECONDS / 4)).requests
  }
  return requests
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "—")

const main = async () => {
  const upstreamPort = await startUpstream()
  const gateway = await startGateway(upstreamPort)
  const nginx = await startNginx(upstreamPort)
  try {
    const warmed = await warmJit([upstreamPort, gateway.port, ...(nginx === undefined ? [] : [nginx.port])])
    const rows: Array<Array<string>> = []
    const streamCase = `token stream, ${CHUNKS} chunks, c=8`
    const cases: ReadonlyArray<{ name: string; concurrency: number; answer: Answer }> = [
      { name: "short JSON, c=1", concurrency: 1, answer: "short" },
      { name: "short JSON, c=32", concurrency: 32, answer: "short" },
      { name: "short JSON, c=8", concurrency: 8, answer: "short" },
      { name: streamCase, concurrency: 8, answer: "stream" },
      { name: `${CHUNKS} chunks in one write, c=8`, concurrency: 8, answer: "burst" }
    ]
    const figures: Record<string, { direct: Result; sollol: Result; nginx: Result | undefined }> = {}
    for (const c of cases) {
      const fronts: Array<readonly [string, Front]> = [
        ["direct", { port: upstreamPort }],
        ["sollol", { port: gateway.port, process: gateway.child }]
      ]
      if (nginx !== undefined) fronts.push(["nginx", { port: nginx.port, process: nginx.child }])
      const measured = await measureCase(fronts, c.concurrency, c.answer)
      const direct = measured["direct"]!
      const sollol = measured["sollol"]!
      const viaNginx = measured["nginx"]
      figures[c.name] = { direct, sollol, nginx: viaNginx }
      rows.push([
        c.name,
        fmt(direct.rps, 0),
        fmt(sollol.rps, 0),
        viaNginx === undefined ? "—" : fmt(viaNginx.rps, 0),
        viaNginx === undefined ? "—" : fmt(sollol.rps / viaNginx.rps),
        fmt(sollol.p50 - direct.p50, 3),
        fmt(sollol.p99 - direct.p99, 3),
        viaNginx === undefined ? "—" : fmt(viaNginx.p50 - direct.p50, 3),
        fmt(sollol.cpuPerRequestUs, 0),
        viaNginx === undefined ? "—" : fmt(viaNginx.cpuPerRequestUs, 0)
      ])
    }
    const header = ["case", "direct req/s", "sollol req/s", "nginx req/s", "sollol/nginx", "sollol +p50 ms", "sollol +p99 ms", "nginx +p50 ms", "sollol CPU µs/req", "nginx CPU µs/req"]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (r: ReadonlyArray<string>) => r.map((v, i) => v.padStart(widths[i]!)).join("  ")
    console.log(`\nSOLLOL gateway overhead (median of ${ROUNDS} rounds of ${SECONDS} s per front, upstream answers instantly;`)
    console.log(`after ${JIT_WARMUP_SECONDS} s of mixed warm-up load per front, ${warmed} requests in all)\n`)
    console.log(line(header))
    for (const r of rows) console.log(line(r))
    const short = figures["short JSON, c=32"]!.sollol
    // Per chunk: a token stream's extra CPU over a short answer at the same concurrency, nginx's alike.
    const perChunk = (front: "sollol" | "nginx") => {
      const base = figures["short JSON, c=8"]![front]
      const stream = figures[streamCase]![front]
      return base === undefined || stream === undefined ? Number.NaN : (stream.cpuPerRequestUs - base.cpuPerRequestUs) / (CHUNKS + 1)
    }
    const { sollol: stream, nginx: streamViaNginx } = figures[streamCase]!
    console.log(`\ntargets: added p50 at c=1 ≤ 0.3 ms → ${fmt(figures["short JSON, c=1"]!.sollol.p50 - figures["short JSON, c=1"]!.direct.p50, 3)} ms`)
    console.log(`         CPU per short request ≤ 150 µs → ${fmt(short.cpuPerRequestUs, 0)} µs`)
    console.log(`         CPU per streamed chunk ≤ 10 µs → ${fmt(perChunk("sollol"), 1)} µs (nginx: ${fmt(perChunk("nginx"), 1)} µs)`)
    console.log(`         token streams ≥ 0.9 × nginx req/s → ${streamViaNginx === undefined ? "nginx not installed" : fmt(stream.rps / streamViaNginx.rps)}`)
  } finally {
    gateway.child.kill("SIGTERM")
    nginx?.child.kill("SIGTERM")
    setTimeout(() => process.exit(0), 500)
  }
}

void main()
