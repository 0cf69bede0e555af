// SPDX-License-Identifier: MIT
// A reviewer's own history: counts today and in all, and the answers given, newest first.
import {api} from './api.js';
import {el, brief, when, dur, toast, scrollBox} from './util.js';

// A task's text: its input, its first text field (schema order first) or its JSON.
function taskText({input}, fields) {
  const o = input && typeof input === 'object' ? input : {};
  const s = typeof input === 'string' ? input : [...fields.map((f) => f.name), ...Object.keys(o)]
    .map((k) => o[k]).find((v) => typeof v === 'string' && v.trim());
  return brief(s || (input ?? ''), 90);
}

// Task id -> text, 6 requests at a time; a task not readable shows its id only.
async function taskTexts(rows) {
  const out = new Map(), fields = {};
  const get = (p, s) => api('GET', p + encodeURIComponent(s));
  for (const x of rows) fields[x.queue] ||= get('/v1/queues/', x.queue).then((q) => q.config.schema.fields, () => []);
  const ids = [...new Set(rows.map((x) => x.task_id))];
  const next = async () => {
    for (let id; (id = ids.shift());) {
      try { const t = await get('/v1/tasks/', id); out.set(id, taskText(t, await fields[t.queue] || [])); } catch { /* id only */ }
    }
  };
  await Promise.all([1, 2, 3, 4, 5, 6].map(next));
  return out;
}

// Mounts the history screen into root.
export function mount(root, ctx) {
  const counts = el('div', {class: 'tiles'});
  const body = el('tbody');
  const more = el('button', {type: 'button', class: 'link', hidden: true, text: 'Show older answers'});
  root.replaceChildren(el('section', {class: 'page'},
    el('h1', {text: 'My history'}), counts,
    scrollBox('Your answers', el('table', {class: 'grid', id: 'history'},
      el('caption', {class: 'sr', text: 'Your answers, newest first'}),
      el('thead', {}, el('tr', {}, ['When', 'Task', 'Queue', 'Question', 'Answer', 'Comment', 'Time spent']
        .map((h) => el('th', {scope: 'col', text: h})))), body)),
    more));
  const tile = (n, label) => el('div', {class: 'tile'}, el('b', {text: String(n)}), el('span', {text: label}));
  api('GET', '/v1/me').then((me) => {
    counts.replaceChildren(tile(me.counts.today, 'answers today'), tile(me.counts.total, 'answers in all'),
                           tile(me.queues.length, 'queues you review'));
  }).catch((e) => toast(e.message, 'error'));
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    try {
      const q = '/v1/me/responses?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
      const r = await api('GET', q);
      const texts = await taskTexts(r.responses);
      for (const x of r.responses) {
        const t = x.task_id, id = ctx.isOrch ? el('a', {href: '#/audit/task/' + encodeURIComponent(t), class: 'tid', text: t})
          : el('code', {class: 'tid', text: t});
        body.append(el('tr', {},
          el('td', {text: when(x.created_at)}),
          el('td', {class: 'task'}, texts.has(t) ? el('span', {text: texts.get(t)}) : null, id),
          el('td', {text: x.queue}),
          el('td', {text: x.question || '–'}),
          el('td', {}, el('span', {class: 'kind k-' + x.kind, text: x.kind}), x.value == null ? '' : ' ' + brief(x.value, 60)),
          el('td', {text: brief(x.comment || '', 60)}),
          el('td', {text: x.time_spent_ms == null ? '–' : dur(x.time_spent_ms / 1000)})));
      }
      if (!body.children.length) body.append(el('tr', {}, el('td', {colspan: 7, class: 'empty', text: 'No answers yet.'})));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) { toast(e.message, 'error'); }
    more.disabled = false;
  };
  more.addEventListener('click', load);
  load();
  return null;
}
