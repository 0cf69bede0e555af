// SPDX-License-Identifier: MIT
// A queue's calibration: threshold, risk-coverage and reliability charts, withdrawals.
import {api, seg} from './api.js';
import {el, when, toast} from './util.js';
import {loadChart} from './dashboard.js';

const f = (x, d = 4) => (typeof x === 'number' ? String(+x.toFixed(d)) : '–');
const pc = (x) => (typeof x === 'number' ? f(100 * x, 1) + ' %' : '–');
const C = (id, t) => el('figure', {class: 'chart'}, el('figcaption', {text: t}),
  el('div', {class: 'chartbox'}, el('canvas', {id, role: 'img', 'aria-label': t})));
const L = (label, data, c, x) => ({label, data, borderColor: c, backgroundColor: c, showLine: true, ...x});
const T = (id, b, s) => el('div', {class: 'tile', id}, el('b', {text: b}), el('span', {text: s}));
const ax = (t, m) => ({min: 0, max: m, title: {display: true, text: t}});

// Mounts queue name's page (or the queue list); returns the cleanup.
export function mount(root, ctx, [name]) {
  const page = el('section', {class: 'page wide', id: 'calibration'}, el('h1', {text: 'Calibration ' + (name || '')}));
  root.replaceChildren(page);
  const charts = [];
  const shown = name ? Promise.all([api('GET', `/v1/queues/${seg(name)}/calibration`), loadChart()]).then(([v]) => {
    const a = v.audit || {}, m = v.params?.max_error, on = v.certified;
    page.append(
      el('p', {class: 'hint', id: 'calreason', text: on ? `Scores from ${f(v.threshold)} are accepted: ${v.n} verified, ${v.k} wrong, error ≤ ${pc(v.bound)}.` : v.reason}),
      el('div', {class: 'tiles'}, T('c-threshold', on ? f(v.threshold) : 'none', 'certified threshold'),
        T('c-share', pc(v.last_day?.share), 'auto-accepted, last day'),
        T('c-pairs', String(v.evidence?.pairs ?? '–'), 'verified pairs'),
        T('c-drift', `${a.audits ?? '–'} · ${f(a.drift_statistic, 2)}/${f(a.drift_limit, 2)}`, 'audits · drift')),
      el('div', {class: 'charts'}, C('riskcov', 'Error by share accepted'), C('reliab', 'Share right by score')),
      el('h2', {text: 'Withdrawals'}),
      el('table', {class: 'grid', id: 'withdrawals'}, el('tbody', {}, ...(v.withdrawals || []).map((w) =>
        el('tr', {}, el('td', {text: when(w.at)}), el('td', {text: `threshold ${f(w.data.threshold)}, n ${w.data.n}, k ${w.data.k}`}))))),
      v.conformal ? el('p', {id: 'calsets', text: 'Prediction set sizes: ' + JSON.stringify(v.conformal.set_sizes)}) : '');
    const rc = v.risk_coverage, op = {animation: false, maintainAspectRatio: false};
    const P = (k) => rc.map((p) => ({x: p.share, y: p[k]}));
    const draw = (id, scales, datasets) => charts.push(new window.Chart(page.querySelector('#' + id), {type: 'scatter', options: {...op, scales}, data: {datasets}}));
    draw('riskcov', {x: ax('share accepted', 1), y: ax('error')}, [L('error', P('error'), '#2563eb'),
      L('upper bound', P('upper'), '#d97706'), L('max_error', [{x: 0, y: m}, {x: 1, y: m}], '#6b7280', {pointRadius: 0}),
      ...(on ? [L('threshold', [{x: v.share_above, y: v.bound}], '#dc2626', {pointRadius: 7})] : [])]);
    draw('reliab', {x: ax('score', 1), y: ax('share right', 1)}, [
      L('bins', v.reliability.bins.filter((b) => b.n).map((b) => ({x: b.mean_score, y: b.accuracy})), '#059669'),
      ...(on ? [L('threshold', [{x: v.threshold, y: 0}, {x: v.threshold, y: 1}], '#dc2626', {pointRadius: 0})] : [])]);
  }) : api('GET', '/v1/queues').then(({queues}) => page.append(el('ul', {id: 'calqueues'}, ...queues.map((q) =>
    el('li', {}, el('a', {href: '#/calibration/' + seg(q.name), text: q.name}))))));
  shown.catch((e) => toast(e.message, 'error'));
  return () => charts.forEach((c) => c.destroy());
}
