// SPDX-License-Identifier: MIT
// DOM building, safe markdown, word diff and formatting helpers shared by every screen.

// el('div', {class: 'x', onclick: f}, child...) builds an element. Strings become text nodes:
// nothing here ever parses HTML, so model or user text cannot inject markup.
export function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else if (k === 'value') n.value = v;
    else if (k in n && typeof v !== 'string') n[k] = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  add(n, kids);
  return n;
}

function add(n, kids) {
  for (const c of kids) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(n, c);
    else n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// A box whose content may scroll (a wide table, long JSON): focusable, so the keyboard can scroll
// it (WCAG 2.1.1), and named for screen readers. tag is 'div' (class scroll) or 'pre' (class json).
export function scrollBox(label, kid, tag = 'div') {
  return el(tag, {class: tag === 'pre' ? 'json' : 'scroll', tabindex: '0', role: 'region', 'aria-label': label,
                  text: tag === 'pre' ? kid : undefined}, tag === 'pre' ? null : kid);
}

// Pretty JSON text of any value.
export const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

// "12 s", "4 min", "3.2 h", "2 d" for a number of seconds.
export function dur(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86400)} d`;
}

// Local date and time of an RFC 3339 string, short.
export function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  return d.toLocaleString(undefined, {month: 'short', day: 'numeric', hour: '2-digit',
                                      minute: '2-digit', second: '2-digit'});
}

// One-line summary of a JSON value, cut to n characters.
export function brief(v, n = 80) {
  const s = v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// ---- markdown: a small safe subset rendered straight into DOM nodes ----

// Inline markup: `code`, **strong**, *em* / _em_, [text](http(s) url). Returns nodes.
function inline(s) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0, m;
  while ((m = re.exec(s))) {
    if (m.index > last) out.push(s.slice(last, m.index));
    if (m[1] !== undefined) out.push(el('code', {text: m[1]}));
    else if (m[2] !== undefined) out.push(el('strong', {}, inline(m[2])));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(el('em', {}, inline(m[3] ?? m[4])));
    else if (/^https?:\/\//i.test(m[6])) {
      out.push(el('a', {href: m[6], rel: 'noopener noreferrer nofollow', target: '_blank'}, inline(m[5])));
    } else out.push(m[0]);
    last = re.lastIndex;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

// Markdown text to a <div class="md">: headings, paragraphs, lists, quotes, fenced code.
export function markdown(src) {
  const root = el('div', {class: 'md'});
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const l = lines[i];
    let m;
    if (/^\s*$/.test(l)) { i++; continue; }
    if (l.startsWith('```')) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      i++;
      root.append(el('pre', {}, el('code', {text: code.join('\n')})));
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(l))) {
      root.append(el('h' + Math.min(6, m[1].length + 2), {}, inline(m[2])));
      i++;
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(l)) {
      const ordered = /^\s*\d/.test(l);
      const list = el(ordered ? 'ol' : 'ul');
      for (; i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i])); i++) {
        list.append(el('li', {}, inline(m[2])));
      }
      root.append(list);
    } else if (l.startsWith('>')) {
      const q = [];
      for (; i < lines.length && lines[i].startsWith('>'); i++) q.push(lines[i].replace(/^>\s?/, ''));
      root.append(el('blockquote', {}, inline(q.join(' '))));
    } else {
      const p = [];
      for (; i < lines.length && !/^\s*$|^```|^#{1,6}\s|^\s*([-*+]|\d+[.)])\s|^>/.test(lines[i]); i++) {
        p.push(lines[i]);
      }
      root.append(el('p', {}, inline(p.join(' '))));
    }
  }
  return root;
}

// ---- diff: LCS over words (lines when the texts are long) ----

// Returns [{op: '=', '-', '+', text}] turning a into b.
export function diff(a, b) {
  const split = (s, byLine) => (byLine ? s.split(/(?<=\n)/) : s.match(/\s+|[^\s]+/g) || []);
  let byLine = false;
  let x = split(a, false), y = split(b, false);
  if (x.length * y.length > 4e6) { byLine = true; x = split(a, true); y = split(b, true); }
  if (x.length * y.length > 4e6) return [{op: '-', text: a}, {op: '+', text: b}];
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let s = 0;
  while (s < x.length - p && s < y.length - p && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  const xs = x.slice(p, x.length - s), ys = y.slice(p, y.length - s);
  const n = xs.length, m = ys.length, w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = xs[i] === ys[j] ? t[(i + 1) * w + j + 1] + 1
                                     : Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
    }
  }
  const ops = [];
  const push = (op, text) => {
    const l = ops[ops.length - 1];
    if (l && l.op === op) l.text += text; else ops.push({op, text});
  };
  if (p) push('=', x.slice(0, p).join(''));
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && xs[i] === ys[j]) { push('=', xs[i]); i++; j++; }
    else if (j < m && (i === n || t[i * w + j + 1] >= t[(i + 1) * w + j])) push('+', ys[j++]);
    else push('-', xs[i++]);
  }
  if (s) push('=', x.slice(x.length - s).join(''));
  return ops;
}

// Side-by-side view of the diff from a (left) to b (right).
export function diffView(a, b, leftTitle, rightTitle) {
  const ops = diff(String(a ?? ''), String(b ?? ''));
  const left = el('div', {class: 'dside'}), right = el('div', {class: 'dside'});
  for (const o of ops) {
    if (o.op !== '+') left.append(o.op === '-' ? el('del', {text: o.text}) : o.text);
    if (o.op !== '-') right.append(o.op === '+' ? el('ins', {text: o.text}) : o.text);
  }
  return el('div', {class: 'diff'},
    el('div', {}, el('div', {class: 'dtitle', text: leftTitle}), left),
    el('div', {}, el('div', {class: 'dtitle', text: rightTitle}), right));
}

// Shows a short message in the page's live region (read out by screen readers).
export function toast(msg, kind = 'info') {
  const box = document.getElementById('toast');
  if (!box) return;
  const t = el('div', {class: 'toastmsg ' + kind, role: kind === 'error' ? 'alert' : 'status', text: msg});
  box.append(t);
  setTimeout(() => t.remove(), 5000);
}
