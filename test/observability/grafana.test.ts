import { readFileSync } from "node:fs"
import { collectDefaultMetrics, Registry } from "prom-client"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { declareMetrics } from "../../src/observability/metricDefs.js"

/** Every series name a gateway exports, histogram suffixes included. */
const exported = async () => {
  const registry = new Registry()
  declareMetrics(registry)
  collectDefaultMetrics({ register: registry, prefix: "sollol_" })
  const names = new Set<string>()
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name)
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_count", "_sum"]) names.add(m.name + s)
  }
  return names
}

describe("deploy/grafana", () => {
  it("queries only series the gateway exports", async () => {
    const names = await exported()
    const dashboard = JSON.parse(readFileSync("deploy/grafana/sollol-dashboard.json", "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
    }
    expect(dashboard.panels.length).toBeGreaterThan(10)
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\bsollol_\w+/g) ?? []))
    expect(used.length).toBeGreaterThan(0)
    for (const name of used) expect(names, name).toContain(name)
  })

  it("scrapes /metrics in the Prometheus config", () => {
    const config = parse(readFileSync("deploy/grafana/prometheus.yml", "utf8"))
    expect(config.scrape_configs[0]).toMatchObject({ job_name: "sollol", metrics_path: "/metrics" })
  })
})
