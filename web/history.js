// SPDX-License-Identifier: MIT
// A reviewer's own history: counts today and in all, and the answers given, newest first.
import {api} from './api.js';
import {el, brief, when, dur, toast} from './util.js';

// Mounts the history screen into root.
export function mount(root, ctx) {
  const counts = el('div', {class: 'tiles'});
  const body = el('tbody');
  const more = el('button', {type: 'button', class: 'link', hidden: true, text: 'Show older answers'});
  root.replaceChildren(el('section', {class: 'page'},
    el('h1', {text: 'My history'}), counts,
    el('div', {class: 'scroll'}, el('table', {class: 'grid', id: 'history'},
      el('caption', {class: 'sr', text: 'Your answers, newest first'}),
      el('thead', {}, el('tr', {}, ['When', 'Queue', 'Question', 'Answer', 'Comment', 'Time spent', 'Task']
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
      for (const x of r.responses) {
        body.append(el('tr', {},
          el('td', {text: when(x.created_at)}),
          el('td', {text: x.queue}),
          el('td', {text: x.question || '–'}),
          el('td', {}, el('span', {class: 'kind k-' + x.kind, text: x.kind}), x.value === null || x.value === undefined ? '' : ' ' + brief(x.value, 60)),
          el('td', {text: brief(x.comment || '', 60)}),
          el('td', {text: x.time_spent_ms === null || x.time_spent_ms === undefined ? '–' : dur(x.time_spent_ms / 1000)}),
          el('td', {}, ctx.isOrch ? el('a', {href: '#/audit/task/' + encodeURIComponent(x.task_id), text: x.task_id})
                                  : el('code', {text: x.task_id}))));
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
