/** The dashboard as one self-contained HTML document: markup, inlined styles and script, no external requests. */
import { script } from "./script.js"
import { styles } from "./styles.js"

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SOLLOL · cluster dashboard</title>
<style>${styles}</style>
</head>
<body>
<header>
  <h1>SOL<span>LOL</span></h1>
  <div class="conn"><span id="conn" class="dot"></span><span id="conn-text">connecting…</span></div>
  <div class="kpis">
    <div class="kpi"><b id="kpi-rpm">–</b><small>requests / min</small></div>
    <div class="kpi"><b id="kpi-success">–</b><small>success</small></div>
    <div class="kpi"><b id="kpi-p50">–</b><small>p50 latency</small></div>
    <div class="kpi"><b id="kpi-p95">–</b><small>p95 latency</small></div>
    <div class="kpi"><b id="kpi-queue">0</b><small>queued</small></div>
  </div>
</header>
<main>
  <section class="wide">
    <h2>Nodes</h2>
    <table>
      <thead><tr><th>Node</th><th>State</th><th>In flight / slots</th><th>Latency p50</th><th>Success (1 min)</th>
        <th>Requests (1 min)</th><th>Tokens/s</th><th>Loaded models</th></tr></thead>
      <tbody id="nodes"></tbody>
    </table>
  </section>
  <section class="wide charts">
    <div class="chart"><h2>Latency</h2>
      <div class="legend"><i style="background:#60a5fa"></i>p50<i style="background:#f59e0b"></i>p95
        (last minute, sampled each second)</div>
      <div id="latency-chart"></div></div>
    <div class="chart"><h2>Throughput</h2>
      <div class="legend"><i style="background:#22c55e"></i>requests per second (last minute)</div>
      <div id="throughput-chart"></div></div>
  </section>
  <section>
    <h2>Live decisions</h2>
    <div id="decisions"></div>
  </section>
  <div style="display:flex;flex-direction:column;gap:16px;min-width:0">
    <section><h2>Alerts (<span id="alert-count">0</span>)</h2><ul id="alerts"></ul></section>
    <section><h2>Queue by priority · <span id="queue-depth" class="mono">0</span></h2>
      <div id="queue" class="queue"></div></section>
  </div>
</main>
<script>${script}</script>
</body>
</html>
`
