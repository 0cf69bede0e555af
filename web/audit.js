// SPDX-License-Identifier: MIT
// The audit view: the hash-chained event log with filters, and one task's full history.
import {api, seg} from './api.js';
import {el, brief, pretty, when, dur, toast, scrollBox} from './util.js';

const TYPES = ['', 'task.submitted', 'task.leased', 'task.responded', 'task.decided', 'task.escalated',
  'task.released', 'task.lease_expired', 'task.skipped', 'task.cancelled', 'task.expired',
  'queue.created', 'queue.updated', 'token.created'];

const taskLink = (id) => (id ? el('a', {href: '#/audit/task/' + encodeURIComponent(id), text: id}) : '–');

function eventTable(id) {
  const body = el('tbody');
  const table = el('table', {class: 'grid events', id},
    el('thead', {}, el('tr', {}, ['Seq', 'When', 'Type', 'Queue', 'Task', 'Actor', 'Details', 'Hash']
      .map((h) => el('th', {scope: 'col', text: h})))), body);
  const add = (evs) => {
    for (const e of evs) {
      body.append(el('tr', {'data-seq': e.seq},
        el('td', {class: 'num', text: e.seq}), el('td', {text: when(e.at)}),
        el('td', {}, el('span', {class: 'etype', text: e.type})), el('td', {text: e.queue || '–'}),
        el('td', {}, taskLink(e.task_id)), el('td', {text: e.actor || '–'}),
        el('td', {}, el('details', {}, el('summary', {text: brief(e.data, 60)}), el('pre', {class: 'json', text: pretty(e.data)}))),
        el('td', {}, el('code', {title: e.hash, text: (e.hash || '').slice(0, 10)}))));
    }
  };
  return {table, body, add};
}

// Mounts the event log (no params) or the history of task params[1] (params[0] == "task").
export function mount(root, ctx, params) {
  return params[0] === 'task' && params[1] ? task(root, params[1]) : log(root);
}

function log(root) {
  const f = {};
  const input = (k, label) => (f[k] = el('input', {id: 'f-' + k, name: k, 'aria-label': label, placeholder: label}));
  f.type = el('select', {id: 'f-type', 'aria-label': 'Event type'}, TYPES.map((t) => el('option', {value: t, text: t || 'any type'})));
  const t = eventTable('auditlog');
  const more = el('button', {type: 'button', id: 'more', text: 'Load more'});
  const status = el('p', {class: 'hint', role: 'status'});
  const form = el('form', {class: 'filters', 'aria-label': 'Filter events'},
    input('task_id', 'Task id'), input('queue', 'Queue'), input('actor', 'Actor'), f.type,
    el('button', {type: 'submit', class: 'primary', text: 'Filter'}),
    el('button', {type: 'reset', text: 'Clear'}));
  root.replaceChildren(el('section', {class: 'page wide'}, el('h1', {text: 'Audit log'}),
    el('p', {class: 'hint', text: 'Every change, newest first, each hash covering the one before it (verify with hitl audit verify).'}),
    form, scrollBox('Audit events', t.table), status, more));
  let before = null; // The next_before of the last page; null: start at the newest event.
  const load = async (reset) => {
    if (reset) { before = null; t.body.replaceChildren(); }
    const q = new URLSearchParams({order: 'newest', limit: '100'});
    if (before) q.set('before', String(before));
    for (const k of ['task_id', 'queue', 'actor', 'type']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    more.disabled = true;
    try {
      const r = await api('GET', '/v1/events?' + q);
      t.add(r.events);
      before = r.next_before;
      status.textContent = t.body.children.length ? `${t.body.children.length} events shown.` : 'No event matches.';
      more.disabled = before === null;
    } catch (e) { toast(e.message, 'error'); more.disabled = false; }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  form.addEventListener('reset', () => setTimeout(() => load(true)));
  more.addEventListener('click', () => load(false));
  load(true);
  return null;
}

function task(root, id) {
  const box = el('div', {}, el('p', {class: 'hint', text: 'Loading…'}));
  const t = eventTable('taskevents');
  root.replaceChildren(el('section', {class: 'page wide'},
    el('h1', {}, el('a', {href: '#/audit', text: 'Audit'}), ' / task ', el('code', {text: id})), box,
    el('h2', {text: 'Events'}), scrollBox('Events of the task', t.table)));
  api('GET', '/v1/tasks/' + seg(id)).then((x) => {
    const d = x.decision;
    const kv = (k, v) => [el('dt', {text: k}), el('dd', {}, v)];
    box.replaceChildren(
      el('dl', {class: 'kv'},
        kv('Queue', x.queue), kv('State', el('span', {class: 'badge s-' + x.state, text: x.state})),
        kv('Decision', d ? `${d.outcome} by ${d.by}${d.rule ? ' (rule ' + d.rule + ')' : ''}${d.reviewers ? ' — ' + d.reviewers.join(', ') : ''}, ${when(d.decided_at)}` : 'not yet'),
        kv('Routed', x.route ? (x.route.rule ? `rule ${x.route.rule} → ${x.route.action}` : 'no rule matched → review') : '–'),
        kv('Confidence', x.confidence ?? '–'), kv('Model', x.model_version || '–'),
        kv('Submitted', when(x.created_at))),
      el('div', {class: 'two'},
        el('div', {}, el('h2', {text: 'Input'}), scrollBox('Input', pretty(x.input), 'pre')),
        el('div', {}, el('h2', {text: 'Output'}), scrollBox('Output', x.output === undefined ? '–' : pretty(x.output), 'pre'))),
      el('h2', {text: 'Responses'}),
      scrollBox('Responses', el('table', {class: 'grid', id: 'responses'},
        el('thead', {}, el('tr', {}, ['When', 'Reviewer', 'Question', 'Answer', 'Comment', 'Time spent'].map((h) => el('th', {scope: 'col', text: h})))),
        el('tbody', {}, (x.responses || []).map((r) => el('tr', {},
          el('td', {text: when(r.created_at)}), el('td', {text: r.reviewer}), el('td', {text: r.question || '–'}),
          el('td', {}, el('b', {text: r.kind}), r.value === null || r.value === undefined ? '' : ' ' + brief(r.value, 100)),
          el('td', {text: r.comment || ''}), el('td', {text: r.time_spent_ms == null ? '–' : dur(r.time_spent_ms / 1000)})))))));
  }).catch((e) => box.replaceChildren(el('p', {class: 'warn', text: e.message})));
  const page = async (after) => {
    const r = await api('GET', `/v1/events?task_id=${encodeURIComponent(id)}&after=${after}&limit=1000`);
    t.add(r.events.filter((e) => e.task_id === id));
    if (r.events.length === 1000) await page(r.next_after);
  };
  page(0).catch((e) => toast(e.message, 'error'));
  return null;
}
