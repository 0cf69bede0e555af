// SPDX-License-Identifier: MIT
// The operations dashboard: per-queue counts and timings, reviewers, charts, live from SSE.
import {api} from './api.js';
import {el, dur, when, toast, scrollBox} from './util.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];
const TYPES = ['task.submitted', 'task.leased', 'task.responded', 'task.decided', 'task.escalated',
  'task.released', 'task.lease_expired', 'task.skipped', 'task.cancelled', 'task.expired',
  'queue.created', 'queue.updated', 'token.created', 'calibration.certified', 'calibration.withdrawn'];

let chartLoad = null;
// Loads Chart.js (served from Debian's libjs-chart.js) once; resolves to the global Chart.
export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  chartLoad = chartLoad || new Promise((ok, fail) => {
    const s = el('script', {src: '/assets/vendor/chart.min.js'});
    s.addEventListener('load', () => ok(window.Chart));
    s.addEventListener('error', () => { chartLoad = null; fail(new Error('Chart.js could not be loaded')); });
    document.head.append(s);
  });
  return chartLoad;
}

// The stats of the last window; without /v1/stats, what /v1/queues tells.
async function fetchStats(win) {
  try {
    return await api('GET', '/v1/stats?window=' + win);
  } catch (e) {
    if (e.status !== 404) throw e;
    const {queues} = await api('GET', '/v1/queues');
    return {window_seconds: win, queues: queues.map((q) => ({name: q.name, counts: q.counts, decided_by: q.decided_by})),
            reviewers: [], series: {points: []}};
  }
}

// Mounts the dashboard into root; returns the cleanup (closes the event stream and charts).
export function mount(root) {
  let win = 3600, stats = null, es = null, timer = 0, busy = false, again = false, stopped = false;
  const charts = {};
  const tiles = el('div', {class: 'tiles', id: 'totals'});
  const qbody = el('tbody');
  const rbody = el('tbody');
  const live = el('span', {class: 'live', role: 'status', text: 'connecting…'});
  const ticker = el('ol', {class: 'ticker', 'aria-label': 'Latest events'});
  const select = el('select', {id: 'window', 'aria-label': 'Time window'},
    [[900, 'last 15 min'], [3600, 'last hour'], [86400, 'last 24 h'], [604800, 'last 7 days']]
      .map(([v, t]) => el('option', {value: String(v), selected: v === win, text: t})));
  select.addEventListener('change', () => { win = Number(select.value); refresh(); });
  const canvas = (id, label) => el('figure', {class: 'chart'}, el('figcaption', {text: label}),
    el('div', {class: 'chartbox'}, el('canvas', {id, role: 'img', 'aria-label': label})));
  const head = (...h) => el('thead', {}, el('tr', {}, h.map((x) => el('th', {scope: 'col', text: x}))));
  root.replaceChildren(el('section', {class: 'page wide'},
    el('div', {class: 'pagehead'}, el('h1', {text: 'Operations'}), select, live),
    tiles,
    el('h2', {text: 'Queues'}),
    scrollBox('Queues', el('table', {class: 'grid', id: 'queues'},
      head('Queue', 'Pending', 'Leased', 'Decided', 'Expired', 'Oldest pending', 'By policy', 'By people',
           'Decision p50', 'p95', 'SLA breaches'), qbody)),
    el('div', {class: 'charts'},
      canvas('depth', 'Queue depth (pending tasks) over time'),
      canvas('decisions', 'Decisions per interval: policy vs people'),
      canvas('ttd', 'Time to decision (window)')),
    el('div', {class: 'two'},
      el('div', {}, el('h2', {text: 'Reviewers'}), el('table', {class: 'grid', id: 'reviewers'},
        head('Reviewer', 'Answers', 'Per hour'), rbody)),
      el('div', {}, el('h2', {text: 'Live events'}), ticker))));

  const num = (q, col, v) => el('td', {class: 'num', 'data-queue': q, 'data-col': col, text: v});
  function render() {
    const qs = stats.queues;
    const sum = (f) => qs.reduce((a, q) => a + (f(q) || 0), 0);
    const byPolicy = sum((q) => q.decided_by.policy), byPeople = sum((q) => q.decided_by.human + q.decided_by.consensus);
    const tile = (n, label, id) => el('div', {class: 'tile', id}, el('b', {text: String(n)}), el('span', {text: label}));
    tiles.replaceChildren(tile(sum((q) => q.counts.pending), 'pending', 't-pending'),
      tile(sum((q) => q.counts.leased), 'being reviewed', 't-leased'),
      tile(sum((q) => q.counts.decided), 'decided', 't-decided'),
      tile(byPolicy + byPeople ? Math.round((100 * byPolicy) / (byPolicy + byPeople)) + ' %' : '–', 'decided by policy', 't-auto'),
      tile(sum((q) => q.sla_breaches), 'SLA breaches', 't-sla'));
    qbody.replaceChildren(...qs.map((q) => {
      const t = q.time_to_decision || {};
      return el('tr', {'data-queue': q.name},
        el('th', {scope: 'row'}, el('a', {href: '#/config/' + encodeURIComponent(q.name), text: q.name})),
        num(q.name, 'pending', q.counts.pending), num(q.name, 'leased', q.counts.leased),
        num(q.name, 'decided', q.counts.decided), num(q.name, 'expired', q.counts.expired),
        num(q.name, 'oldest', q.oldest_pending_age_seconds ? dur(q.oldest_pending_age_seconds) : '–'),
        num(q.name, 'policy', q.decided_by.policy), num(q.name, 'human', q.decided_by.human + q.decided_by.consensus),
        num(q.name, 'p50', t.count ? dur(t.p50_seconds) : '–'), num(q.name, 'p95', t.count ? dur(t.p95_seconds) : '–'),
        num(q.name, 'sla', q.sla_breaches ?? '–'));
    }));
    if (!qs.length) qbody.append(el('tr', {}, el('td', {colspan: 11, class: 'empty', text: 'No queues yet: create one under Queues.'})));
    rbody.replaceChildren(...(stats.reviewers || []).map((r) => el('tr', {},
      el('th', {scope: 'row', text: r.name}), el('td', {class: 'num', text: r.responses}),
      el('td', {class: 'num', text: r.per_hour.toFixed(1)}))));
    if (!rbody.children.length) rbody.append(el('tr', {}, el('td', {colspan: 3, class: 'empty', text: 'No answers in this window.'})));
    draw();
  }

  function draw() {
    if (!window.Chart) return;
    const pts = (stats.series && stats.series.points) || [];
    const labels = pts.map((p) => new Date(p.at).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false}));
    const names = stats.queues.map((q) => q.name);
    const depth = names.map((n, i) => ({label: n, data: pts.map((p) => p.queues[n]?.pending ?? null),
      borderColor: COLORS[i % 8], backgroundColor: COLORS[i % 8], pointRadius: 0, tension: 0}));
    const delta = (k) => pts.map((p, i) => (i ? Math.max(0, names.reduce((a, n) =>
      a + ((p.queues[n]?.[k] ?? 0) - (pts[i - 1].queues[n]?.[k] ?? 0)), 0)) : 0));
    const decisions = [{label: 'by policy', data: delta('decided_policy_total'), backgroundColor: COLORS[0]},
                       {label: 'by people', data: delta('decided_human_total'), backgroundColor: COLORS[1]}];
    const h = stats.queues.find((q) => q.histogram)?.histogram;
    const bounds = h ? h.bounds_seconds : [];
    const short = (x) => (x < 60 ? x + ' s' : x < 3600 ? x / 60 + ' min' : x < 86400 ? x / 3600 + ' h' : x / 86400 + ' d');
    const hl = [...bounds.map((b) => '≤ ' + short(b)), bounds.length ? '> ' + short(bounds[bounds.length - 1]) : ''];
    const hd = hl.map((_, i) => stats.queues.reduce((a, q) => a + (q.histogram?.counts[i] || 0), 0));
    const base = {animation: false, responsive: true, maintainAspectRatio: false,
                  plugins: {legend: {position: 'bottom', labels: {boxWidth: 12}}}};
    const put = (id, type, data, opts) => {
      if (charts[id]) { charts[id].data = data; charts[id].update('none'); return; }
      const c = root.querySelector('#' + id);
      if (c) charts[id] = new window.Chart(c, {type, data, options: {...base, ...opts}});
    };
    const ticks = {ticks: {maxTicksLimit: 6, maxRotation: 0}};
    const count = {beginAtZero: true, ticks: {precision: 0}};
    put('depth', 'line', {labels, datasets: depth}, {scales: {x: ticks, y: count}});
    put('decisions', 'bar', {labels, datasets: decisions},
        {scales: {x: {...ticks, stacked: true}, y: {...count, stacked: true}}});
    put('ttd', 'bar', {labels: hl, datasets: [{label: 'decisions', data: hd, backgroundColor: COLORS[2]}]},
        {plugins: {legend: {display: false}}, scales: {y: count}});
  }

  // Fetches the stats; while one fetch runs, at most one more is queued.
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      stats = await fetchStats(win);
      if (stopped) return;
      render();
      if (!es) stream(await recent(stats.last_seq ?? 0));
    } catch (e) { toast(e.message, 'error'); }
    busy = false;
    if (again) { again = false; refresh(); }
  }

  // The latest TICKER events, newest on top; shown: the newest seq.
  const TICKER = 12;
  let shown = 0;
  function addEvent(ev) {
    if (!(ev.seq > shown)) return;
    shown = ev.seq;
    ticker.prepend(el('li', {}, el('time', {text: when(ev.at)}), ' ', el('b', {text: ev.type}),
      ` ${ev.queue || ''} ${ev.actor ? 'by ' + ev.actor : ''}`));
    while (ticker.children.length > TICKER) ticker.lastChild.remove();
  }

  // Fills the ticker at load; resolves to the seq the stream starts after.
  async function recent(after) {
    try {
      const {events} = await api('GET', `/v1/events?order=newest&limit=${TICKER}`);
      for (const ev of events.reverse()) addEvent(ev);
      return Math.max(shown, after);
    } catch { return after; }
  }

  function stream(after) {
    es = new EventSource('/v1/events/stream?after=' + after);
    es.addEventListener('open', () => { live.textContent = 'live'; live.classList.add('on'); });
    es.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.classList.remove('on'); });
    const on = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      addEvent(ev);
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    };
    for (const t of TYPES) es.addEventListener(t, on);
    es.addEventListener('message', on);
  }

  loadChart().then(() => { if (stats && !stopped) draw(); }).catch((e) => toast(e.message, 'error'));
  refresh();
  const tick = setInterval(refresh, 10000);
  return () => {
    stopped = true;
    clearInterval(tick);
    clearTimeout(timer);
    if (es) es.close();
    for (const c of Object.values(charts)) c.destroy();
  };
}
