/**
 * The dashboard's browser script, inlined into the page: it follows `/api/sollol/events` (EventSource) and
 * renders nodes, queue, alerts, live decisions and two SVG charts. Plain ES2020, no libraries.
 */
export const script = `
(function () {
  'use strict';
  var MAX_POINTS = 300, MAX_DECISIONS = 40;
  var nodes = {}, stats = {}, alerts = {}, points = [], decisions = [];
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  };
  var ms = function (v) {
    if (v == null || isNaN(v)) return '–';
    return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : Math.round(v) + ' ms';
  };
  var pct = function (v) { return v == null ? '–' : (v * 100).toFixed(v >= 0.995 || v === 0 ? 0 : 1) + '%'; };
  var num = function (v, d) { return v == null || isNaN(v) ? '–' : Number(v).toFixed(d || 0); };

  function renderNodes() {
    var ids = Object.keys(nodes).sort();
    var body = $('nodes');
    if (ids.length === 0) { body.innerHTML = '<tr><td colspan="8" class="empty">No nodes</td></tr>'; return; }
    body.innerHTML = ids.map(function (id) {
      var n = nodes[id], s = stats[id] || {};
      var state = n.drained ? 'excluded' : n.health;
      var load = n.slots > 0 ? Math.min(1, n.inFlight / n.slots) : 0;
      var loaded = (n.loaded || []).map(function (m) {
        return '<span class="chip">' + esc(m.name) + '</span>';
      }).join('');
      return '<tr data-node="' + esc(id) + '" data-health="' + esc(state) + '">' +
        '<td><b>' + esc(id) + '</b><div class="muted mono">' + esc(n.url) + '</div></td>' +
        '<td><span class="pill ' + esc(state) + '">' + esc(state) + (n.drained ? ' (drained)' : '') + '</span></td>' +
        '<td>' + n.inFlight + ' / ' + n.slots +
        '<div class="bar"><i style="width:' + (load * 100).toFixed(0) + '%"></i></div></td>' +
        '<td>' + ms(s.p50Ms) + '<div class="muted">ewma ' + ms(n.ewmaMs) + '</div></td>' +
        '<td>' + (s.requests ? pct(s.successRate) : '–') + '</td>' +
        '<td>' + (s.requests || 0) + '</td>' +
        '<td>' + num(s.tokensPerSecond, 1) + '</td>' +
        '<td>' + (loaded || '<span class="muted">none</span>') + '</td></tr>';
    }).join('');
  }

  function renderAlerts() {
    var list = Object.keys(alerts).map(function (k) { return alerts[k]; });
    $('alert-count').textContent = String(list.length);
    $('alerts').innerHTML = list.length === 0
      ? '<li class="empty" style="border:none;background:none">No active alerts</li>' :
      list.map(function (a) {
        return '<li class="' + esc(a.severity) + '" data-alert="' + esc(a.key) + '">' + esc(a.message) +
          '<small>' + esc(a.kind) + ' · ' + new Date(a.at).toLocaleTimeString() + '</small></li>';
      }).join('');
  }

  function renderQueue(q) {
    var by = {}; (q.byPriority || []).forEach(function (p) { by[p.priority] = p.waiting; });
    var max = 1; for (var p = 1; p <= 10; p++) max = Math.max(max, by[p] || 0);
    var html = '';
    for (var i = 10; i >= 1; i--) {
      var w = by[i] || 0;
      html += '<div title="priority ' + i + ': ' + w + ' waiting"><span style="height:' + (w / max * 100).toFixed(0) +
        '%"></span><small>' + i + '</small></div>';
    }
    $('queue').innerHTML = html;
    $('queue-depth').textContent = q.depth + ' / ' + q.capacity;
  }

  function line(values, max, w, h, color) {
    if (values.length < 2) return '';
    var step = w / (MAX_POINTS - 1), off = MAX_POINTS - values.length;
    return '<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' + values.map(function (v, i) {
      return ((off + i) * step).toFixed(1) + ',' + (h - (v / max) * (h - 8)).toFixed(1);
    }).join(' ') + '"/>';
  }

  function chart(id, series, unit) {
    var w = 600, h = 150, max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    max = max > 0 ? max * 1.1 : 1;
    var grid = '';
    for (var g = 1; g <= 3; g++) {
      var y = (h - (g / 4) * (h - 8)).toFixed(1);
      grid += '<line x1="0" x2="' + w + '" y1="' + y + '" y2="' + y + '" stroke="#1f2a44"/>' +
        '<text x="4" y="' + (y - 3) + '" fill="#8b96b0" font-size="10">' +
        num(max * g / 4, max < 10 ? 1 : 0) + ' ' + unit + '</text>';
    }
    $(id).innerHTML = '<svg viewBox="0 0 ' + w + ' ' + h + '" preserveAspectRatio="none">' + grid +
      series.map(function (s) { return line(s.values, max, w, h, s.color); }).join('') + '</svg>';
  }

  function renderCharts() {
    chart('latency-chart', [
      { values: points.map(function (p) { return p.p50; }), color: '#60a5fa' },
      { values: points.map(function (p) { return p.p95; }), color: '#f59e0b' }
    ], 'ms');
    chart('throughput-chart', [{ values: points.map(function (p) { return p.rps; }), color: '#22c55e' }], 'req/s');
  }

  function renderDecisions() {
    var el = $('decisions');
    if (decisions.length === 0) { el.innerHTML = '<div class="empty">Waiting for requests…</div>'; return; }
    el.innerHTML = decisions.map(function (d) {
      var cands = (d.candidates || []).slice().sort(function (a, b) { return a.score - b.score; }).map(function (c) {
        return '<span class="chip' + (c.nodeId === d.node ? ' win' : '') + '">' + esc(c.nodeId) + ' ' +
          num(c.score, 1) + '</span>';
      }).join('');
      return '<div class="decision" data-request="' + esc(d.requestId) + '"><div class="head">' +
        '<span class="mono muted">' + new Date(d.at).toLocaleTimeString() + '</span>' +
        '<b>' + esc(d.kind) + '</b><span class="mono">' + esc(d.model) + '</span>' +
        '<span class="muted">p' + d.priority + '</span><span>→ <b>' + esc(d.node || 'none') + '</b></span>' +
        '<span class="' + (d.outcome === 'ok' ? 'ok' : 'err') + '">' + d.status + '</span>' +
        '<span>' + ms(d.durationMs) + '</span>' +
        (d.attempts > 1 ? '<span class="err">' + d.attempts + ' attempts</span>' : '') +
        (d.queueWaitMs > 0 ? '<span class="muted">queued ' + ms(d.queueWaitMs) + '</span>' : '') +
        '</div><div class="why">' + esc(d.reasoning || d.error || '') + '</div>' +
        (cands ? '<div>' + cands + '</div>' : '') + '</div>';
    }).join('');
  }

  function onSummary(s) {
    stats = s.nodes || {};
    points.push({ p50: s.all.p50Ms, p95: s.all.p95Ms, rps: s.all.rps });
    if (points.length > MAX_POINTS) points.shift();
    $('kpi-rpm').textContent = num(s.all.requests);
    $('kpi-success').textContent = s.all.requests ? pct(s.all.successRate) : '–';
    $('kpi-p50').textContent = ms(s.all.p50Ms);
    $('kpi-p95').textContent = ms(s.all.p95Ms);
    $('kpi-queue').textContent = String(s.queue.depth);
    renderQueue(s.queue); renderNodes(); renderCharts();
  }

  function connect() {
    var es = new EventSource('/api/sollol/events');
    var on = function (name, f) { es.addEventListener(name, function (e) { f(JSON.parse(e.data)); }); };
    es.onopen = function () { $('conn').classList.add('on'); $('conn-text').textContent = 'live'; };
    es.onerror = function () { $('conn').classList.remove('on'); $('conn-text').textContent = 'reconnecting…'; };
    on('nodes', function (d) {
      nodes = {}; d.nodes.forEach(function (n) { nodes[n.nodeId] = n; }); renderNodes();
    });
    on('health.changed', function (e) { if (nodes[e.nodeId]) { nodes[e.nodeId].health = e.health; renderNodes(); } });
    on('node.removed', function (e) { delete nodes[e.nodeId]; renderNodes(); });
    on('decision', function (d) {
      decisions.unshift(d); if (decisions.length > MAX_DECISIONS) decisions.pop(); renderDecisions();
    });
    on('alert', function (a) { if (a.active) alerts[a.key] = a; else delete alerts[a.key]; renderAlerts(); });
    on('summary', onSummary);
  }

  renderNodes(); renderAlerts(); renderDecisions(); renderCharts();
  renderQueue({ depth: 0, capacity: 0, byPriority: [] });
  connect();
})();
`
