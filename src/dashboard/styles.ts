/** The dashboard's stylesheet, inlined into the page (no external fonts or assets: clusters are often offline). */
export const styles = `
:root{--bg:#0b1020;--panel:#121a2e;--line:#1f2a44;--text:#e6ebf5;--muted:#8b96b0;--accent:#60a5fa;
--healthy:#22c55e;--degraded:#f59e0b;--excluded:#ef4444;--recovering:#3b82f6;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:center;gap:24px;padding:14px 24px;border-bottom:1px solid var(--line);
background:#0e1528}
header h1{font-size:18px;margin:0;letter-spacing:.08em}
header h1 span{color:var(--accent)}
.conn{display:flex;align-items:center;gap:6px;color:var(--muted);font-size:12px}
.dot{width:9px;height:9px;border-radius:50%;background:var(--excluded)}
.dot.on{background:var(--healthy);box-shadow:0 0 8px var(--healthy)}
.kpis{display:flex;gap:22px;margin-left:auto}
.kpi{display:flex;flex-direction:column;align-items:flex-end}
.kpi b{font-size:18px;font-variant-numeric:tabular-nums}
.kpi small{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
main{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:16px;padding:16px 24px}
section{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
section h2{margin:0 0 10px;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;
letter-spacing:.08em}
.wide{grid-column:1 / -1}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{text-align:left;font-weight:500;color:var(--muted);font-size:12px;padding:6px 8px;
border-bottom:1px solid var(--line)}
td{padding:8px;border-bottom:1px solid var(--line);vertical-align:middle}
tr:last-child td{border-bottom:none}
.pill{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;
text-transform:capitalize}
.pill.healthy{background:rgba(34,197,94,.15);color:var(--healthy)}
.pill.degraded{background:rgba(245,158,11,.15);color:var(--degraded)}
.pill.excluded{background:rgba(239,68,68,.15);color:var(--excluded)}
.pill.recovering{background:rgba(59,130,246,.15);color:var(--recovering)}
tr[data-health=excluded] td{opacity:.75}
.bar{position:relative;height:6px;width:90px;background:var(--line);border-radius:3px;overflow:hidden;margin-top:4px}
.bar i{position:absolute;left:0;top:0;bottom:0;background:var(--accent)}
.mono{font-family:var(--mono);font-size:12px}
.muted{color:var(--muted)}
.chip{display:inline-block;background:#1a2440;border:1px solid var(--line);border-radius:6px;
padding:1px 6px;margin:2px 4px 0 0;font-size:11px}
.chip.win{border-color:var(--accent);color:var(--accent)}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.chart svg{width:100%;height:150px;display:block}
.chart .legend{font-size:12px;color:var(--muted);margin-bottom:4px}
.legend i{display:inline-block;width:10px;height:3px;margin:0 4px 2px 10px;vertical-align:middle}
#alerts{list-style:none;margin:0;padding:0}
#alerts li{padding:8px 10px;border-radius:6px;margin-bottom:6px;border-left:3px solid var(--degraded);
background:rgba(245,158,11,.08)}
#alerts li.critical{border-color:var(--excluded);background:rgba(239,68,68,.08)}
#alerts li small{color:var(--muted);margin-left:6px}
.queue{display:flex;align-items:flex-end;gap:6px;height:110px;padding-top:8px}
.queue div{flex:1;display:flex;flex-direction:column;align-items:center;justify-content:flex-end;height:100%}
.queue span{width:100%;background:var(--accent);border-radius:3px 3px 0 0;min-height:2px}
.queue small{color:var(--muted);font-size:11px;margin-top:4px}
#decisions{max-height:420px;overflow:auto}
.decision{padding:8px 0;border-bottom:1px solid var(--line)}
.decision:last-child{border-bottom:none}
.decision .head{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.decision .why{color:var(--muted);font-size:12px;margin-top:2px}
.ok{color:var(--healthy)}.err{color:var(--excluded)}
.empty{color:var(--muted);font-style:italic}
`
