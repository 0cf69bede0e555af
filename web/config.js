// SPDX-License-Identifier: MIT
// The queue configuration editor: JSON text, checked locally and by the server, errors at the field.
import {api, seg} from './api.js';
import {deliveriesPanel} from './deliveries.js';
import {el, toast} from './util.js';

const TEMPLATE = {
  description: 'What reviewers check in this queue',
  schema: {fields: [{name: 'text', type: 'text'}], questions: [{name: 'verdict', type: 'approve'}]},
  policy: {rules: [{name: 'low-confidence', when: {confidence_below: 0.8}, then: {action: 'review'}},
                   {name: 'default', then: {action: 'accept'}}]},
  assignment: {overlap: 1, roles: ['validator'], lease_seconds: 600, consensus: 'majority'},
  sla: {deadline_seconds: 86400, on_timeout: 'escalate'},
};

// Where a field path like "schema.questions[2].labels" is in JSON text: {start, end} of the
// deepest part of the path that exists (a key, or an array item), or null.
export function locate(src, path) {
  const want = String(path || '').replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
  let i = 0, best = null;
  const ws = () => { while (i < src.length && /\s/.test(src[i])) i++; };
  const str = () => {
    const s = i++;
    while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
    i++;
    return [s, i];
  };
  const hit = (depth, start, end) => { if (!best || best.depth <= depth) best = {depth, start, end}; };
  const value = (depth, match) => {
    ws();
    const c = src[i];
    if (c === '{' || c === '[') {
      const obj = c === '{';
      i++;
      ws();
      if (src[i] === (obj ? '}' : ']')) { i++; return; }
      for (let k = 0; i < src.length; k++) {
        ws();
        let m, start = i, end;
        if (obj) {
          const [ks, ke] = str();
          m = match && want[depth] === JSON.parse(src.slice(ks, ke));
          end = ke;
          ws();
          i++;
        } else m = match && want[depth] === String(k);
        if (m) hit(depth + 1, start, end || start + 1);
        const vs = i;
        value(depth + 1, m);
        if (m && !obj) hit(depth + 1, vs, i);
        ws();
        if (src[i] === ',') { i++; continue; }
        i++;
        return;
      }
    } else if (c === '"') str();
    else while (i < src.length && /[^,\]}\s]/.test(src[i])) i++;
  };
  try { value(0, true); } catch { /* broken text: best so far */ }
  return best;
}

// Mounts the editor into root; params[0] is the queue to open.
export function mount(root, ctx, params) {
  let name = params[0] || null;
  const list = el('ul', {class: 'qlist', 'aria-label': 'Queues'});
  const newName = el('input', {id: 'newqueue', placeholder: 'new-queue-name', 'aria-label': 'New queue name',
                               pattern: '[A-Za-z0-9_.\\-]{1,64}'});
  const title = el('h2', {id: 'edtitle', text: 'Pick a queue'});
  const gutter = el('div', {class: 'gutter', 'aria-hidden': 'true'});
  const area = el('textarea', {id: 'config', class: 'code', spellcheck: 'false', rows: 28, wrap: 'off',
                               'aria-labelledby': 'edtitle', 'aria-describedby': 'cfgerr'});
  const bubble = el('div', {class: 'bubble', hidden: true, 'aria-hidden': 'true'});
  const err = el('div', {id: 'cfgerr', class: 'fielderr', role: 'alert'});
  const save = el('button', {type: 'button', class: 'primary', id: 'save', disabled: true}, 'Save ', el('kbd', {text: 'Ctrl+S'}));
  const check = el('button', {type: 'button', id: 'check', text: 'Check JSON'});
  const hooks = el('div', {id: 'hooks'});
  let errLine = 0;

  root.replaceChildren(el('section', {class: 'page wide'},
    el('h1', {text: 'Queue configuration'}),
    el('div', {class: 'cfg'},
      el('aside', {}, list, el('form', {class: 'newq', onsubmit: (e) => { e.preventDefault(); create(); }},
        newName, el('button', {type: 'submit', text: 'New queue'}))),
      el('div', {class: 'edcol'}, title,
        el('p', {class: 'hint'}, 'The whole configuration as JSON (docs/queues.md). Saving replaces it; tasks already submitted keep their routing.'),
        el('div', {class: 'codewrap'}, gutter, area, bubble), err,
        el('div', {class: 'row'}, check, save), hooks))));

  const lines = () => {
    const n = area.value.split('\n').length;
    gutter.replaceChildren(...Array.from({length: n}, (_, k) => el('div', {class: k + 1 === errLine ? 'err' : null, text: String(k + 1)})));
    gutter.scrollTop = area.scrollTop;
  };
  const place = () => {
    gutter.scrollTop = area.scrollTop;
    if (!errLine) return;
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
    bubble.style.top = `${errLine * lh + 6 - area.scrollTop}px`;
  };
  const clear = () => {
    err.textContent = '';
    bubble.hidden = true;
    errLine = 0;
    area.removeAttribute('aria-invalid');
  };
  // Shows message at offset (or at the field path's place in the text).
  const showErr = (message, at, field) => {
    const lineOf = (o) => area.value.slice(0, o).split('\n').length;
    err.textContent = (field ? field + ': ' : '') + message;
    area.setAttribute('aria-invalid', 'true');
    if (at === null || at === undefined) { errLine = 0; bubble.hidden = true; lines(); return; }
    const end = typeof at === 'object' ? at.end : at + 1;
    const start = typeof at === 'object' ? at.start : at;
    errLine = lineOf(start);
    bubble.textContent = message;
    bubble.hidden = false;
    lines();
    area.focus();
    area.setSelectionRange(start, end);
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (errLine - 4) * lh);
    place();
  };
  const parse = () => {
    try { return JSON.parse(area.value); } catch (e) {
      const m = /position (\d+)/.exec(e.message) || null;
      let at = m ? Number(m[1]) : null;
      const lc = /line (\d+) column (\d+)/.exec(e.message);
      if (at === null && lc) at = area.value.split('\n').slice(0, lc[1] - 1).join('\n').length + Number(lc[2]);
      showErr('not valid JSON: ' + e.message, at);
      return undefined;
    }
  };
  area.addEventListener('input', () => { if (errLine || err.textContent) clear(); lines(); });
  area.addEventListener('scroll', place);
  area.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); put(); }
  });
  check.addEventListener('click', () => { clear(); if (parse() !== undefined) toast('The JSON is well formed.'); });
  save.addEventListener('click', put);

  async function put() {
    if (!name) return;
    clear();
    const body = parse();
    if (body === undefined) return;
    save.disabled = true;
    try {
      const q = await api('PUT', '/v1/queues/' + seg(name), body);
      area.value = JSON.stringify(q.config, null, 2);
      lines();
      toast(`Saved queue ${name}.`);
      if (!hooks.firstChild || q.webhook_secrets) hooks.replaceChildren(deliveriesPanel(name, q.webhook_secrets));
      loadList();
    } catch (e) {
      showErr(e.message, e.field ? locate(area.value, e.field) : null, e.field);
    } finally { save.disabled = false; }
  }

  function open(n, config, stored) {
    name = n;
    hooks.replaceChildren(...(stored ? [deliveriesPanel(n)] : []));
    title.textContent = 'Queue ' + n;
    area.value = JSON.stringify(config, null, 2);
    save.disabled = false;
    clear();
    lines();
    for (const li of list.querySelectorAll('a')) li.setAttribute('aria-current', String(li.dataset.name === n));
  }

  function create() {
    const n = newName.value.trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n) || n === '.' || n === '..') {
      toast('A queue name has 1 to 64 of A-Z a-z 0-9 _ . -', 'error');
      newName.focus();
      return;
    }
    history.replaceState(null, '', '#/config/' + encodeURIComponent(n));
    open(n, TEMPLATE);
    area.focus();
  }

  async function loadList() {
    try {
      const {queues} = await api('GET', '/v1/queues');
      list.replaceChildren(...queues.map((q) => el('li', {}, el('a', {href: '#/config/' + encodeURIComponent(q.name),
        'data-name': q.name, 'aria-current': String(q.name === name), text: q.name}))));
      if (!queues.length) list.replaceChildren(el('li', {class: 'hint', text: 'No queues yet.'}));
      return queues;
    } catch (e) { toast(e.message, 'error'); return []; }
  }

  loadList().then((queues) => {
    const q = queues.find((x) => x.name === name);
    if (q) open(q.name, q.config, true);
    else if (name) open(name, TEMPLATE);
  });
  return null;
}
