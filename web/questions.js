// SPDX-License-Identifier: MIT
// The answer widgets, one per question type of a queue schema, each with its keyboard handling.
import {el, pretty, diffView} from './util.js';
import {boxes} from './boxes.js';
import {transcription} from './transcription.js';
import {relations} from './relations.js';

// The text a reviewer corrects: the output itself when it is a string, else output[name] or
// output.text when those are strings.
export function suggestionText(output, name) {
  if (typeof output === 'string') return output;
  if (output && typeof output === 'object') {
    if (typeof output[name] === 'string') return output[name];
    if (typeof output.text === 'string') return output.text;
  }
  return null;
}

// The candidates of a preference question: the members of output[q.name] or of output when it
// is an object (name -> content), or the items of an array (named 1, 2, ...).
export function candidates(output, qname) {
  let src = output;
  if (src && typeof src === 'object' && !Array.isArray(src) && src[qname] && typeof src[qname] === 'object') {
    src = src[qname];
  }
  if (Array.isArray(src)) return src.map((v, i) => ({name: String(i + 1), content: v}));
  if (src && typeof src === 'object') return Object.entries(src).map(([name, content]) => ({name, content}));
  return [];
}

const keyHint = (k) => el('kbd', {'aria-hidden': 'true', text: k});

// Builds the widget of question q for task; saved is its state from an earlier visit (or
// undefined) and changed() is called after every change. Returns {q, el, st, answer(), digit(n),
// key(k), focus()}; answer() gives null (unanswered), {error} or {question, kind, value}.
// The widgets of one task by question name, so that a relations question reads its spans and
// every widget's sync() hears of a change in another.
const mates = new WeakMap();

export function makeQuestion(q, task, saved, changed) {
  const make = {approve, label, labels: multi, rating, preference, text, spans, boxes, transcription,
                relations}[q.type] || unknown;
  if (!mates.has(task)) mates.set(task, new Map());
  const m = mates.get(task);
  const w = make(q, task, saved || {}, () => { changed(); for (const x of m.values()) x.sync?.(); }, m);
  m.set(q.name, w);
  w.q = q;
  w.el.classList.add('q', 'q-' + q.type);
  w.el.dataset.question = q.name;
  w.el.setAttribute('role', 'group');
  w.el.setAttribute('aria-label', `Question ${q.name} (${q.type})`);
  w.el.prepend(el('div', {class: 'qhead'}, el('span', {class: 'qname', text: q.name}),
                  el('span', {class: 'qtype', text: q.type})));
  return w;
}

function unknown(q) {
  return {el: el('section', {}, el('p', {text: `unsupported question type ${q.type}`})), st: {},
          answer: () => null};
}

function approve(q, task, st, changed) {
  const out = task.output;
  const isText = typeof out === 'string' || out === undefined;
  const initial = out === undefined ? '' : pretty(out);
  if (st.text === undefined) st.text = initial;
  const buttons = {};
  const editor = el('textarea', {class: 'editor', rows: 6, spellcheck: 'true', value: st.text,
                                 'aria-label': `Corrected output for ${q.name}`});
  const diffBox = el('div', {class: 'livediff', 'aria-live': 'off'});
  const err = el('div', {class: 'fielderr', role: 'alert'});
  const edit = el('div', {class: 'edit', hidden: true},
    el('label', {class: 'sub', text: isText ? 'Corrected text' : 'Corrected output (JSON)'}),
    editor, err, diffBox);
  let pend = 0;
  const redraw = () => {
    diffBox.replaceChildren(diffView(initial, editor.value, 'Suggestion', 'Your correction'));
  };
  editor.addEventListener('input', () => {
    st.text = editor.value;
    err.textContent = '';
    changed();
    clearTimeout(pend);
    pend = setTimeout(redraw, 120);
  });
  const set = (kind) => {
    st.kind = st.kind === kind && kind !== 'modify' ? null : kind;
    for (const [k, b] of Object.entries(buttons)) b.setAttribute('aria-pressed', String(st.kind === k));
    edit.hidden = st.kind !== 'modify';
    if (st.kind === 'modify') { redraw(); editor.focus(); }
    changed();
  };
  const btn = (kind, label, key) => {
    buttons[kind] = el('button', {type: 'button', class: 'choice ' + kind, 'aria-pressed': 'false',
                                  'aria-keyshortcuts': key, onclick: () => set(kind)},
                       label, keyHint(key));
    return buttons[kind];
  };
  const node = el('section', {},
    el('div', {class: 'row'}, btn('approve', 'Approve', 'A'), btn('reject', 'Reject', 'R'),
       btn('modify', 'Edit', 'E')),
    edit);
  if (st.kind) { const k = st.kind; st.kind = null; set(k); }
  return {el: node, st, editor,
    key(k) {
      const kind = {a: 'approve', r: 'reject', e: 'modify'}[k];
      if (!kind) return false;
      if (kind === 'modify' && st.kind === 'modify') editor.focus(); else set(kind);
      return true;
    },
    focus: () => buttons.approve.focus(),
    answer() {
      if (!st.kind) return null;
      if (st.kind !== 'modify') return {question: q.name, kind: st.kind};
      if (isText) return {question: q.name, kind: 'modify', value: editor.value};
      try {
        return {question: q.name, kind: 'modify', value: JSON.parse(editor.value)};
      } catch (e) {
        err.textContent = 'The corrected output must be JSON, like the suggestion: ' + e.message;
        return {error: err.textContent, focus: editor};
      }
    }};
}

// A group of radio buttons or checkboxes, one per label, with 1-9 on the first nine.
function choices(q, labels, multiple, st, changed, ariaLabel, render) {
  const name = 'q-' + q.name + '-' + Math.random().toString(36).slice(2, 8);
  const inputs = labels.map((lab, i) => {
    const input = el('input', {type: multiple ? 'checkbox' : 'radio', name, value: String(i)});
    input.addEventListener('change', () => { sync(); changed(); });
    return input;
  });
  const group = el('div', {class: 'choices', role: multiple ? 'group' : 'radiogroup', 'aria-label': ariaLabel},
    labels.map((lab, i) => el('label', {class: 'opt'}, inputs[i], render ? render(lab, i, inputs[i]) : el('span', {text: lab}),
                              i < 9 ? keyHint(String(i + 1)) : null)));
  const sync = () => { st.sel = inputs.flatMap((x, i) => (x.checked ? [i] : [])); st.touched = true; };
  for (const i of st.sel || []) if (inputs[i]) inputs[i].checked = true;
  return {group, inputs,
    pick(i) {
      if (!inputs[i]) return false;
      inputs[i].checked = multiple ? !inputs[i].checked : true;
      sync();
      changed();
      return true;
    }};
}

function label(q, task, st, changed) {
  const ps = task.prediction_set?.labels, i = ps?.length === 1 ? q.labels.indexOf(ps[0]) : -1;
  if (!st.sel && i >= 0) st.sel = [i]; // a one-label prediction set is pre-selected
  const c = choices(q, q.labels || [], false, st, changed, q.name);
  return {el: el('section', {}, c.group), st, digits: true,
    digit: (n) => c.pick(n - 1), focus: () => c.inputs[0] && c.inputs[0].focus(),
    answer: () => (st.sel && st.sel.length ? {question: q.name, kind: 'label', value: q.labels[st.sel[0]]} : null)};
}

function multi(q, task, st, changed) {
  const c = choices(q, q.labels || [], true, st, changed, q.name);
  return {el: el('section', {}, c.group), st, digits: true,
    digit: (n) => c.pick(n - 1), focus: () => c.inputs[0] && c.inputs[0].focus(),
    answer: () => (st.touched ? {question: q.name, kind: 'labels', value: st.sel.map((i) => q.labels[i])} : null)};
}

function rating(q, task, st, changed) {
  const max = q.max || 5;
  const stars = Array.from({length: max}, (_, i) => i + 1);
  const c = choices(q, stars, false, st, changed, `${q.name}: 1 to ${max} stars`,
                    (n, i, input) => {
                      input.setAttribute('aria-label', `${n} star${n > 1 ? 's' : ''}`);
                      return el('span', {class: 'star', title: `${n} of ${max}`, text: '★', 'aria-hidden': 'true'});
                    });
  const node = el('section', {}, c.group);
  const paint = () => {
    const v = st.sel && st.sel.length ? st.sel[0] : -1;
    node.querySelectorAll('.star').forEach((s, i) => { s.classList.toggle('on', i <= v); s.textContent = i <= v ? '★' : '☆'; });
  };
  node.addEventListener('change', paint);
  paint();
  return {el: node, st, digits: true,
    digit: (n) => { const r = c.pick((n === 0 ? 10 : n) - 1); paint(); return r; },
    focus: () => c.inputs[0].focus(),
    answer: () => (st.sel && st.sel.length ? {question: q.name, kind: 'rating', value: st.sel[0] + 1} : null)};
}

function preference(q, task, st, changed) {
  const cands = candidates(task.output, q.name);
  st.ranking = (st.ranking || []).filter((n) => cands.some((c) => c.name === n));
  const cards = cands.map((c, i) => el('button', {type: 'button', class: 'cand', 'aria-pressed': 'false',
                                                  onclick: () => pick(i)},
    el('div', {class: 'candhead'}, i < 9 ? keyHint(String(i + 1)) : null, el('span', {class: 'sr', text: 'Candidate '}),
       el('span', {text: c.name}), el('span', {class: 'rank'})),
    typeof c.content === 'string' ? el('div', {class: 'text', text: c.content})
                                  : el('pre', {class: 'json', text: pretty(c.content)})));
  const reset = el('button', {type: 'button', class: 'link', text: 'Reset ranking',
                              onclick: () => { st.ranking = []; paint(); changed(); }});
  const paint = () => {
    cards.forEach((card, i) => {
      const r = st.ranking.indexOf(cands[i].name);
      card.setAttribute('aria-pressed', String(r === 0));
      card.classList.toggle('ranked', r >= 0);
      // The card's text is its accessible name: "Candidate model-a best <its text>".
      card.querySelector('.rank').textContent = r < 0 ? '' : r === 0 ? 'best' : `#${r + 1}`;
    });
  };
  const pick = (i) => {
    const n = cands[i] && cands[i].name;
    if (!n) return false;
    if (st.ranking.length >= cands.length - 1 || cands.length === 2) st.ranking = [];
    if (!st.ranking.includes(n)) st.ranking.push(n);
    paint();
    changed();
    return true;
  };
  paint();
  const node = el('section', {},
    cands.length < 2 ? el('p', {class: 'warn', text: 'This task has fewer than two candidates in its output.'})
                     : el('div', {class: 'cands' + (cands.length > 2 ? ' many' : '')}, cards),
    cands.length > 2 ? el('p', {class: 'hint'}, 'Press the numbers best first; the rest keep their order. ', reset) : null);
  return {el: node, st, digits: true,
    digit: (n) => pick(n - 1), focus: () => cards[0] && cards[0].focus(),
    answer() {
      if (!st.ranking.length) return null;
      const rest = cands.map((c) => c.name).filter((n) => !st.ranking.includes(n));
      return {question: q.name, kind: 'ranking', value: [...st.ranking, ...rest]};
    }};
}

function text(q, task, st, changed, only) {
  const sugg = suggestionText(task.output, q.name);
  if (st.text === undefined) st.text = sugg || '';
  const area = el('textarea', {class: 'editor', rows: 5, value: st.text, 'aria-label': `Answer to ${q.name}`});
  area.addEventListener('input', () => { st.text = area.value; st.touched = true; changed(); });
  return {el: el('section', {}, area, sugg !== null ? el('p', {class: 'hint', text: 'Prefilled with the suggestion.'}) : null),
    st, editor: area, focus: () => area.focus(),
    answer: (alone) => (st.touched || (alone && st.text) ? {question: q.name, kind: 'text', value: area.value} : null)};
}

// Text spans: select with the mouse or with Shift+arrows in the text, then press a label's number.
function spans(q, task, st, changed) {
  const cps = Array.from(String((task.input || {})[q.field] ?? ''));
  const labels = q.labels || [];
  st.spans = st.spans || [];
  st.a = st.a || 0;
  st.f = st.f || 0;
  const box = el('div', {class: 'spantext', tabindex: '0', role: 'textbox', 'aria-readonly': 'true',
                         'aria-multiline': 'true',
                         'aria-label': `Text of ${q.field}: select a range (Shift+arrows or the mouse), then press 1 to ${Math.min(9, labels.length)} for its label`});
  const list = el('ul', {class: 'spanlist', 'aria-label': 'Marked spans'});
  // What is selected, or the span under the caret, told to screen readers as it changes.
  const said = el('p', {class: 'sr', id: 'said-' + Math.random().toString(36).slice(2, 8), 'aria-live': 'polite'});
  box.setAttribute('aria-describedby', said.id);
  const legend = el('div', {class: 'legend'}, labels.map((l, i) => el('span', {class: 'chip c' + (i % 8)},
    i < 9 ? keyHint(String(i + 1)) : null, l)));
  const lo = () => Math.min(st.a, st.f), hi = () => Math.max(st.a, st.f);
  const paint = () => {
    const cuts = new Set([0, cps.length, lo(), hi()]);
    for (const s of st.spans) { cuts.add(s.start); cuts.add(s.end); }
    const pts = [...cuts].filter((x) => x >= 0 && x <= cps.length).sort((x, y) => x - y);
    const nodes = [];
    for (let k = 0; k + 1 < pts.length; k++) {
      const a = pts[k], b = pts[k + 1];
      const sp = st.spans.find((s) => s.start <= a && b <= s.end);
      const inSel = lo() < hi() && lo() <= a && b <= hi();
      const n = el(sp ? 'mark' : 'span', {'data-s': a, text: cps.slice(a, b).join('')});
      if (sp) {
        n.className = 'c' + (labels.indexOf(sp.label) % 8);
        if (b === sp.end) n.dataset.end = sp.label;
      }
      if (inSel) n.classList.add('sel');
      if (lo() === hi() && a === st.f) nodes.push(el('span', {class: 'caret', 'aria-hidden': 'true'}));
      nodes.push(n);
    }
    if (lo() === hi() && st.f === cps.length) nodes.push(el('span', {class: 'caret', 'aria-hidden': 'true'}));
    box.replaceChildren(...nodes);
    const under = st.spans.find((s) => s.start <= st.f && st.f < s.end), txt = (a, b) => `“${cps.slice(a, b).join('')}”`;
    said.textContent = lo() < hi() ? `Selected ${txt(lo(), hi())}, characters ${lo()} to ${hi()}.`
      : under ? `In ${under.label} span ${txt(under.start, under.end)}.` : '';
    list.replaceChildren(...st.spans.map((s) => el('li', {class: 'chip c' + (labels.indexOf(s.label) % 8)},
      `${s.label}: “${cps.slice(s.start, s.end).join('')}”`,
      el('button', {type: 'button', class: 'x', 'aria-label': `Remove ${s.label} span ${s.start}-${s.end}`, text: '×',
                    onclick: () => { st.spans = st.spans.filter((t) => t !== s); st.touched = true; paint(); changed(); }}))));
  };
  const at = (node, off) => {
    const e = node.nodeType === 3 ? node.parentElement : node;
    const host = e && e.closest('[data-s]');
    if (!host || !box.contains(host)) return null;
    const before = node.nodeType === 3 ? node.textContent.slice(0, off) : '';
    return Number(host.dataset.s) + Array.from(before).length;
  };
  box.addEventListener('mouseup', () => {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount) return;
    const a = at(sel.anchorNode, sel.anchorOffset), f = at(sel.focusNode, sel.focusOffset);
    if (a === null || f === null) return;
    st.a = a; st.f = f;
    sel.removeAllRanges();
    box.focus();
    paint();
  });
  const word = (i, dir) => {
    const sp = (c) => /\s/.test(c || ' ');
    if (dir > 0) { while (i < cps.length && sp(cps[i])) i++; while (i < cps.length && !sp(cps[i])) i++; }
    else { while (i > 0 && sp(cps[i - 1])) i--; while (i > 0 && !sp(cps[i - 1])) i--; }
    return i;
  };
  box.addEventListener('keydown', (e) => {
    let f = st.f;
    if (e.key === 'ArrowRight') f = e.ctrlKey || e.altKey ? word(f, 1) : Math.min(cps.length, f + 1);
    else if (e.key === 'ArrowLeft') f = e.ctrlKey || e.altKey ? word(f, -1) : Math.max(0, f - 1);
    else if (e.key === 'Home') f = 0;
    else if (e.key === 'End') f = cps.length;
    else if (e.key === 'Backspace' || e.key === 'Delete') {
      const before = st.spans.length;
      const p = lo() < hi() ? lo() : e.key === 'Backspace' ? st.f - 1 : st.f;
      st.spans = st.spans.filter((s) => !(s.start <= p && p < s.end));
      if (st.spans.length !== before) { st.touched = true; paint(); changed(); }
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    e.stopPropagation();
    st.f = f;
    if (!e.shiftKey) st.a = f;
    paint();
  });
  paint();
  return {el: el('section', {}, legend, box, said, list), st, digits: true, box,
    focus: () => box.focus(),
    digit(n) {
      const lab = labels[n - 1];
      if (!lab) return false;
      if (lo() === hi()) {
        const s = st.spans.find((s) => s.start <= st.f && st.f < s.end);
        if (!s) return false;
        s.label = lab;
      } else {
        const [a, b] = [lo(), hi()];
        st.spans = st.spans.filter((s) => s.end <= a || s.start >= b);
        st.spans.push({start: a, end: b, label: lab});
        st.spans.sort((x, y) => x.start - y.start);
        st.a = st.f = b;
      }
      st.touched = true;
      paint();
      changed();
      return true;
    },
    answer: () => (st.touched ? {question: q.name, kind: 'spans',
                                 value: st.spans.map((s) => ({start: s.start, end: s.end, label: s.label}))} : null)};
}
