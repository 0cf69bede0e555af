// SPDX-License-Identifier: MIT
// The relations question: directed, labelled links between the spans of a spans question.
import {el} from './util.js';

// Builds the widget (the contract of questions.js). mates maps question names to the task's
// widgets: the spans are read live from mates.get(q.spans). A link names its spans by their
// range ("start:end"; spans never overlap), so it survives renumbering, and sync() drops the
// links of a span that was removed.
export function relations(q, task, st, changed, mates) {
  const labels = q.labels || [];
  st.links = st.links || [];
  const spansW = () => mates.get(q.spans);
  const spans = () => spansW()?.st.spans || [];
  const key = (s) => s.start + ':' + s.end;
  const from = el('select', {'aria-label': 'From entity'});
  const to = el('select', {'aria-label': 'To entity'});
  const msg = el('p', {class: 'hint', role: 'status'});
  const list = el('ol', {class: 'linklist', 'aria-label': 'Links'});
  const name = (k) => {
    const s = spans().find((x) => key(x) === k);
    const cps = Array.from(String((task.input || {})[spansW()?.q.field] ?? ''));
    return s ? `“${cps.slice(s.start, s.end).join('')}” (${s.label})` : k;
  };
  const paint = () => {
    const all = spans();
    for (const [sel, dflt] of [[from, 0], [to, 1]]) {
      const keep = sel.value;
      sel.replaceChildren(...all.map((s, i) => el('option', {value: key(s), text: `${i + 1}. ${name(key(s))}`})));
      sel.value = all.some((s) => key(s) === keep) ? keep : all[dflt] ? key(all[dflt]) : '';
    }
    list.replaceChildren(...st.links.map((l, i) => el('li', {}, `${name(l.a)} → ${l.label} → ${name(l.b)} `,
      el('button', {type: 'button', class: 'x', text: '×', 'aria-label': `Delete link ${i + 1}: ${name(l.a)} ${l.label} ${name(l.b)}`,
                    onclick: () => { st.links.splice(i, 1); st.touched = true; paint(); changed(); from.focus(); }}))));
    if (!all.length) msg.textContent = `Mark entities in “${q.spans}” first, then link two of them here.`;
  };
  const link = (i) => {
    const a = from.value, b = to.value, label = labels[i];
    if (label === undefined) return false;
    msg.textContent = !a || !b ? 'Pick two entities.' : a === b ? 'A link joins two different entities.'
      : st.links.some((l) => l.a === a && l.b === b && l.label === label) ? 'That link is there already.' : '';
    if (!msg.textContent) {
      st.links.push({a, b, label});
      st.touched = true;
      msg.textContent = `Linked ${name(a)} → ${label} → ${name(b)}.`;
      paint();
      changed();
    }
    return true;
  };
  const node = el('section', {},
    el('div', {class: 'row'}, el('label', {class: 'sub'}, 'From ', from), el('label', {class: 'sub'}, 'to ', to)),
    el('div', {class: 'row', role: 'group', 'aria-label': 'Relation: press one to link'},
      labels.map((l, i) => el('button', {type: 'button', onclick: () => link(i)}, l,
                             i < 9 ? el('kbd', {'aria-hidden': 'true', text: String(i + 1)}) : null))),
    msg, list);
  // A number pressed in a select links too (the workspace leaves keys in form controls alone),
  // as the single-character keys setting says: with Alt held, or not at all (review.js).
  node.addEventListener('keydown', (e) => {
    const mode = document.documentElement.dataset.keys || 'on';
    const n = mode === 'alt' ? /^Digit([1-9])$/.exec(e.code)?.[1] : /^[1-9]$/.test(e.key) && e.key;
    if (e.target.tagName === 'SELECT' && n && mode !== 'off' && (mode === 'alt') === e.altKey && !e.ctrlKey &&
        !e.metaKey && link(Number(n) - 1)) e.preventDefault();
  });
  queueMicrotask(paint); // The spans question may come later in the schema.
  return {el: node, st, digits: true, focus: () => from.focus(), digit: (n) => link(n - 1),
    sync() {
      const have = new Set(spans().map(key)), n = st.links.length;
      st.links = st.links.filter((l) => have.has(l.a) && have.has(l.b));
      if (st.links.length !== n) st.touched = true;
      paint();
    },
    answer() {
      const idx = spans().map(key);
      if (!st.touched || !spansW()?.answer()) return null;
      return {question: q.name, kind: 'relations',
              value: st.links.map((l) => ({from: idx.indexOf(l.a), to: idx.indexOf(l.b), label: l.label}))};
    }};
}
