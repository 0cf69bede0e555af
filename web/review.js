// SPDX-License-Identifier: MIT
// The review workspace: queue picker, task view, answer widgets, prefetch, leases and keys.
import {api, seg} from './api.js';
import {el, pretty, markdown, diffView, when, toast, scrollBox} from './util.js';
import {makeQuestion, suggestionText} from './questions.js';
import {audioView, AUDIO_KEYS} from './audio.js';
import {BOX_KEYS} from './boxes.js';

const LOST = 'Your lease on this task was lost (it ran out, was given back, or the task was ' +
  'cancelled or decided elsewhere), so this answer cannot be saved. What you typed is kept below ' +
  'and in this browser tab: copy it if you need it, then press N for the next task.';

// Mounts the picker (no queue) or the workspace of params[0]; returns the cleanup function.
export function mount(root, ctx, params) {
  return params[0] ? workspace(root, ctx, params[0]) : picker(root, ctx);
}

// The queues the caller may review: /v1/me, or the queue list filtered by role.
async function myQueues(ctx) {
  try {
    return await api('GET', '/v1/me');
  } catch (e) {
    if (e.status !== 404) throw e;
    const {queues} = await api('GET', '/v1/queues');
    const roles = ctx.session.roles;
    const all = roles.includes('orchestrator');
    return {counts: null, queues: queues.filter((q) => all || (roles.includes('arbiter') && q.counts.pending)
      || q.config.assignment.roles.some((r) => roles.includes(r))).map((q) => ({name: q.name, pending: q.counts.pending}))};
  }
}

function picker(root, ctx) {
  const list = el('ol', {class: 'queues', 'aria-label': 'Queues you may review'});
  const counts = el('p', {class: 'counts'});
  root.replaceChildren(el('section', {class: 'page'}, el('h1', {text: 'Pick a queue'}), counts, list,
    el('p', {class: 'hint', text: 'Press 1–9 or click a queue. In the workspace, press ? for the keys.'})));
  let names = [];
  myQueues(ctx).then((me) => {
    if (me.counts) counts.textContent = `Your answers: ${me.counts.today} today, ${me.counts.total} in all.`;
    names = me.queues.map((q) => q.name);
    list.replaceChildren(...me.queues.map((q, i) => el('li', {},
      el('a', {href: '#/review/' + encodeURIComponent(q.name), class: 'queuelink'},
        i < 9 ? el('kbd', {text: String(i + 1), 'aria-hidden': 'true'}) : null,
        el('span', {class: 'qn', text: q.name}), el('span', {class: 'badge', text: `${q.pending} pending`})))));
    if (!names.length) list.replaceChildren(el('li', {class: 'empty', text: 'No queue takes your roles (' + ctx.session.roles.join(', ') + ').'}));
  }).catch((e) => toast(e.message, 'error'));
  const key = (e) => {
    if (e.target.closest('input, textarea, select')) return;
    const n = Number(shortcut(e));
    if (n >= 1 && names[n - 1]) location.hash = '#/review/' + encodeURIComponent(names[n - 1]);
  };
  document.addEventListener('keydown', key);
  return () => document.removeEventListener('keydown', key);
}

// Single-character shortcuts (WCAG 2.1.4), as the reviewer set them in the Keys dialog: 'on',
// 'alt' (only with Alt held) or 'off'; kept in this browser.
const KEYMODE = 'hitl.keys';
const keyMode = () => { try { return localStorage.getItem(KEYMODE) || 'on'; } catch { return 'on'; } };
// The key hints on the buttons follow the setting (style.css: hidden when off, "Alt+" before them).
const showKeyMode = () => { document.documentElement.dataset.keys = keyMode(); };
showKeyMode();

// The key e stands for, lower case ('a', '1', '?', 'Enter', ...), or null when it is no shortcut:
// a character key with Ctrl or Meta, or one the reviewer's setting turns off.
function shortcut(e) {
  if (e.ctrlKey || e.metaKey) return null;
  if (e.key.length !== 1) return e.altKey ? null : e.key;
  const mode = keyMode();
  if (mode === 'off' || (mode === 'alt') !== e.altKey) return null;
  if (mode !== 'alt') return e.key.toLowerCase();
  const m = /^(?:Key([A-Z])|Digit([0-9]))$/.exec(e.code); // Alt changes e.key on some layouts
  return m ? (m[1] || m[2]).toLowerCase() : e.code === 'Slash' && e.shiftKey ? '?' : null;
}

const IMG = /^(https?:\/\/|data:image\/)/i;
const keyStore = (id) => 'hitl.answer.' + id;
const kbd = (k) => el('kbd', {'aria-hidden': 'true', text: k});
const UNDO_MS = 5000;          // How long a skip or escalate can be taken back.

// ---- how a task looks ----

function section(title, ...body) {
  return el('section', {class: 'block'}, el('h2', {text: title}), ...body);
}

function valueView(v, label) {
  if (typeof v === 'string') return v.length > 200 || v.includes('\n') ? markdown(v) : el('div', {class: 'text', text: v});
  return scrollBox(label, pretty(v), 'pre');
}

function fieldView(f, task, spanFields) {
  const v = (task.input || {})[f.name];
  let body;
  if (spanFields.has(f.name)) body = el('div', {class: 'spanslot', 'data-field': f.name});
  else if (v === undefined || v === null) body = el('p', {class: 'hint', text: 'absent from the input'});
  else if (f.type === 'markdown') body = markdown(String(v));
  else if (f.type === 'json') body = scrollBox(f.name, pretty(v), 'pre');
  else if (f.type === 'image_url') {
    body = IMG.test(String(v))
      ? el('div', {class: 'imgbox'}, el('img', {src: String(v), alt: `Image of field ${f.name}`, loading: 'eager'}))
      : el('p', {class: 'warn', text: 'not an http(s) image URL: ' + String(v)});
  } else if (f.type === 'audio_url') body = audioView(f.name, String(v));
  else if (f.type === 'diff') {
    const s = suggestionText(task.output, f.name);
    body = diffView(typeof v === 'string' ? v : pretty(v), s ?? pretty(task.output ?? ''), 'Input', 'Suggestion');
  } else body = el('div', {class: 'text', text: typeof v === 'string' ? v : pretty(v)});
  return el('section', {class: 'block field'}, el('h2', {}, f.name, el('span', {class: 'ftype', text: f.type})), body);
}

// A bar of p (0..1) named label; level colours it (low, mid, high), else it is blue.
function bar(p, label, level) {
  const fill = el('span', {class: 'fill' + (level ? ' ' + level : '')});
  fill.style.width = (Math.max(0, Math.min(1, p)) * 100).toFixed(1) + '%';
  return el('span', {class: 'bar', role: 'meter', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100',
                     'aria-valuenow': (p * 100).toFixed(1), 'aria-valuetext': (p * 100).toFixed(1) + ' %'}, fill);
}

function confidenceView(t) {
  const rows = [], ps = t.prediction_set;
  if (ps) rows.push(el('div', {class: 'conf', id: 'pset'}, el('span', {text: 'Prediction set'}), el('b', {text: ps.labels.join(', ') || '–'})));
  if (typeof t.confidence === 'number') {
    rows.push(el('div', {class: 'conf'}, el('span', {text: 'Confidence'}),
      bar(t.confidence, 'Model confidence', t.confidence < 0.5 ? 'low' : t.confidence < 0.8 ? 'mid' : 'high'),
      el('b', {text: (t.confidence * 100).toFixed(1) + ' %'})));
  }
  if (t.probabilities && typeof t.probabilities === 'object') {
    const top = Object.entries(t.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 5);
    for (const [k, p] of top) {
      rows.push(el('div', {class: 'conf'}, el('span', {text: k}),
        bar(p, `Probability of ${k}`), el('b', {text: (p * 100).toFixed(1) + ' %'})));
    }
  }
  return rows.length ? el('div', {class: 'confs'}, rows) : null;
}

function routeView(r) {
  if (!r) return null;
  const fmt = (v) => (v === undefined ? '–' : JSON.stringify(v));
  const trace = (r.trace || []).map((x) => el('li', {class: x.result ? 'yes' : 'no'},
    el('b', {text: x.rule}), ` ${x.op}${x.path ? ' ' + x.path : ''}: `,
    x.missing ? 'missing' : `${fmt(x.actual)} vs ${fmt(x.expected)}`, ` → ${x.result}`));
  return el('details', {class: 'block route', open: true},
    el('summary', {}, 'Why it is here: ', r.rule ? ['rule ', el('b', {text: r.rule}), ` → ${r.action}`]
      : 'no rule matched, so it is reviewed', r.role ? `, role ${r.role}` : ''),
    trace.length ? el('ol', {class: 'trace'}, trace) : el('p', {class: 'hint', text: 'No condition was evaluated.'}));
}

function taskView(t, schema) {
  const spanFields = new Set(schema.questions.filter((q) => q.type === 'spans' || q.type === 'boxes').map((q) => q.field));
  const fields = schema.fields.length
    ? schema.fields.map((f) => fieldView(f, t, spanFields))
    : [section('Input', valueView(t.input, 'Input'))];
  return el('article', {class: 'taskview', 'data-task-id': t.id},
    el('div', {class: 'meta'},
      el('h2', {class: 'tid', id: 'taskhead', tabindex: '-1'}, el('span', {class: 'sr', text: 'Task '}), t.id),
      t.stage ? el('span', {class: 'badge warn', text: 'arbitration'}) : null,
      t.priority ? el('span', {class: 'badge', text: 'priority ' + t.priority}) : null,
      t.model_version ? el('span', {class: 'badge', text: t.model_version}) : null,
      el('span', {text: 'submitted ' + when(t.created_at)}),
      t.deadline_at ? el('span', {text: 'due ' + when(t.deadline_at)}) : null),
    fields,
    t.output !== undefined ? section('Suggestion', valueView(t.output, 'Suggestion'), confidenceView(t))
                           : confidenceView(t) && section('Model', confidenceView(t)),
    t.context !== undefined ? section('Evidence', valueView(t.context, 'Evidence')) : null,
    routeView(t.route));
}

// Loads the task's images now, so they are in the cache when it is shown.
function preload(t, schema) {
  for (const f of schema.fields) {
    const v = (t.input || {})[f.name];
    if (f.type === 'image_url' && IMG.test(String(v))) new Image().src = v;
  }
}

// ---- the workspace ----

function workspace(root, ctx, queue) {
  let schema = null, leaseSeconds = 600, cur = null, claiming = false, stopped = false;
  let pollTimer = 0, today = null;
  let held = null;               // A skip or escalate in its Undo window: {s, body, timer, box}.
  const ahead = [];              // Prefetched slots (leases held).
  const perf = (window.hitlPerf = window.hitlPerf || []);

  const banner = el('div', {class: 'banner', id: 'banner', role: 'alert', hidden: true});
  const note = el('div', {class: 'note', role: 'status', 'aria-live': 'polite'});
  const announce = el('div', {class: 'sr', id: 'announce', role: 'status', 'aria-live': 'polite'});
  const item = el('div', {class: 'item'});
  const qs = el('div', {class: 'questions'});
  const comment = el('textarea', {id: 'comment', rows: 2, 'aria-label': 'Comment (C)', placeholder: 'Comment (C)'});
  const button = (id, label, key, f, cls) => el('button', {type: 'button', id, class: cls, disabled: true,
                                                           'aria-keyshortcuts': key, onclick: f}, label, kbd(key));
  const bSkip = button('skip', 'Skip', 'S', () => act('skip'));
  const bEsc = button('escalate', 'Escalate', 'X', () => act('escalate'));
  const bSubmit = button('submit', 'Submit', 'Enter', () => submit(), 'primary');
  // On a phone the question is below the task: Approve and Reject also sit in the answer bar,
  // which stays on screen (shown by the stylesheet on narrow screens only).
  const quickButton = (kind, label, key) => el('button', {type: 'button', id: 'quick-' + kind,
    class: 'choice ' + kind, 'aria-pressed': 'false', onclick: () => quick(key)}, label);
  const quickApprove = quickButton('approve', 'Approve', 'a');
  const quickReject = quickButton('reject', 'Reject', 'r');
  const quickRow = el('div', {class: 'row quick', hidden: true}, quickApprove, quickReject);
  const counter = el('span', {class: 'counter', 'aria-live': 'polite'});
  const help = helpDialog();
  const actionbar = el('div', {class: 'actionbar'}, note, quickRow, comment, el('div', {class: 'row'}, bSkip, bEsc, bSubmit));
  root.replaceChildren(el('div', {class: 'workspace'}, announce,
    el('div', {class: 'wshead'}, el('h1', {}, el('a', {href: '#/review', text: 'Queues'}), ' / ', queue), counter,
       el('button', {type: 'button', class: 'link', onclick: () => help.showModal(), 'aria-keyshortcuts': '?'}, 'Keys ', kbd('?'))),
    banner,
    el('div', {class: 'cols'}, item,
      el('div', {class: 'side'}, qs, actionbar)),
    help));
  comment.addEventListener('input', () => { if (cur) { cur.state.comment = comment.value; save(cur); } });
  item.replaceChildren(el('p', {class: 'hint', text: 'Loading…'}));

  // Tasks answered today, as /v1/me counts them.
  const setCount = () => {
    counter.textContent = today === null ? '' : `${today} ${today === 1 ? 'task' : 'tasks'} answered today`;
  };
  api('GET', '/v1/me').then((me) => { today = me.counts.tasks_today ?? null; setCount(); }).catch(() => {});

  function save(s) {
    try { sessionStorage.setItem(keyStore(s.task.id), JSON.stringify(s.state)); } catch { /* full: keep in memory */ }
  }
  function forget(s) { sessionStorage.removeItem(keyStore(s.task.id)); }

  function slot(task, at) {
    let state = null;
    try { state = JSON.parse(sessionStorage.getItem(keyStore(task.id)) || 'null'); } catch { state = null; }
    return {task, lease: task.lease, at, state: state || {answers: {}, comment: ''}, timer: 0,
            lost: false, msg: null, first: 0, widgets: [], active: -1};
  }

  // Renews s's lease at half its length, again and again, until it is used or lost.
  function renewLater(s) {
    clearTimeout(s.timer);
    s.timer = setTimeout(async () => {
      if (stopped || s.done) return;
      try {
        const t = await api('POST', `/v1/tasks/${seg(s.task.id)}/lease`, {lease_id: s.lease.id});
        if (t && t.lease) s.lease = t.lease;
        renewLater(s);
      } catch (e) {
        if (s.done) return;
        if (e.status === 409) lose(s);
        else if (e.status === 0 || e.status >= 500) { s.timer = setTimeout(() => renewLater(s), 5000); }
      }
    }, Math.max(1000, leaseSeconds * 500));
  }

  function lose(s) {
    s.lost = true;
    s.msg = LOST;
    clearTimeout(s.timer);
    const i = ahead.indexOf(s);
    if (i >= 0) { ahead.splice(i, 1); prefetch(); }
    if (s === cur) paintState();
  }

  function release(s) {
    if (!s || s.done || s.lost) return;
    s.done = true;
    clearTimeout(s.timer);
    api('POST', `/v1/tasks/${seg(s.task.id)}/release`, {lease_id: s.lease.id}, {keepalive: true}).catch(() => {});
  }

  async function claim() {
    const at = Date.now();
    const t = await api('POST', `/v1/queues/${seg(queue)}/claim`);
    if (!t) return null;
    const s = slot(t, at);
    if (stopped) { release(s); return null; }
    renewLater(s);
    preload(t, schema);
    return s;
  }

  // Keeps one task claimed ahead of the current one (and claims the current one when none).
  async function prefetch() {
    if (claiming || stopped || ahead.length || document.visibilityState === 'hidden') return;
    claiming = true;
    clearTimeout(pollTimer);
    let s = null, err = null;
    try { s = await claim(); } catch (e) { err = e; } finally { claiming = false; }
    if (stopped) return;
    if (s) {
      ahead.push(s);
      if (!cur) advance();
      return;
    }
    if (err && err.status === 401) return;
    pollTimer = setTimeout(prefetch, 5000);
    if (!cur) empty(err ? err.message : null);
  }

  function empty(msg) {
    cur = null;
    delete root.dataset.taskId;
    item.replaceChildren(el('div', {class: 'empty'}, el('h2', {text: msg || 'Nothing to review right now'}),
      el('p', {text: `New tasks in ${queue} appear here by themselves (checked every 5 seconds).`})));
    qs.replaceChildren();
    banner.hidden = true;
    note.textContent = '';
    for (const b of [bSkip, bEsc, bSubmit]) b.disabled = true;
    paintQuick();
  }

  // Shows the next prefetched task; without one, keeps the page still while claiming.
  function advance() {
    if (stopped) return;
    const s = ahead.shift();
    cur = null;
    if (s) show(s);
    else {
      for (const b of [bSkip, bEsc, bSubmit]) b.disabled = true;
      paintQuick();
      note.textContent = 'Loading the next task…';
    }
    prefetch();
  }

  function show(s) {
    cur = s;
    if (!s.first) s.first = performance.now();
    const qlist = schema.questions;
    s.widgets = qlist.map((q) => makeQuestion(q, s.task, (s.state.answers[q.name] = s.state.answers[q.name] || {}),
                                               () => { save(s); paintQuick(); }));
    s.active = s.widgets.findIndex((w) => w.digits);
    item.replaceChildren(taskView(s.task, schema));
    for (const w of s.widgets) {
      const slotEl = w.box && item.querySelector(`.spanslot[data-field="${CSS.escape(w.q.field)}"]`);
      if (slotEl) slotEl.append(w.box);
    }
    qs.replaceChildren(...s.widgets.map((w) => w.el));
    comment.value = s.state.comment || '';
    note.textContent = '';
    root.dataset.taskId = s.task.id;
    paintState();
    window.scrollTo(0, 0);
    // Told to screen readers, and the focus on the task's heading (not the body, where a typed
    // word would run shortcuts).
    announce.textContent = `New task ${s.task.id} in ${queue}.`;
    item.querySelector('#taskhead').focus({preventScroll: true});
  }

  function paintState() {
    if (!cur) return;
    banner.hidden = !cur.msg;
    banner.textContent = cur.msg || '';
    banner.className = 'banner' + (cur.lost ? ' lost' : '');
    cur.widgets.forEach((w, i) => {
      w.el.classList.toggle('active', i === cur.active);
      if (i === cur.active) w.el.setAttribute('aria-current', 'true'); else w.el.removeAttribute('aria-current');
    });
    bSubmit.firstChild.textContent = cur.lost ? 'Next task' : 'Submit';
    for (const b of [bSkip, bEsc]) b.disabled = cur.lost;
    bSubmit.disabled = false;
    paintQuick();
  }

  // The answer bar's Approve and Reject mirror the first approve question of the task shown.
  function approveWidget() {
    return cur && !cur.done && !cur.lost ? cur.widgets.find((w) => w.q.type === 'approve') : undefined;
  }
  function paintQuick() {
    const w = approveWidget();
    quickRow.hidden = !w;
    if (!w) return;
    quickApprove.setAttribute('aria-pressed', String(w.st.kind === 'approve'));
    quickReject.setAttribute('aria-pressed', String(w.st.kind === 'reject'));
  }
  function quick(key) { approveWidget()?.key(key); }

  // No answer goes for cur: none shown, sent, or a skip or escalate of it waits out its Undo.
  const busy = () => !cur || cur.done || held?.s === cur;

  function submit() {
    if (busy()) return;
    if (cur.lost) { drop(cur); return; }
    const answers = [];
    for (const w of cur.widgets) {
      const a = w.answer(cur.widgets.length === 1);
      if (!a) continue;
      if (a.error) { note.textContent = a.error; if (a.focus) a.focus.focus(); return; }
      answers.push(a);
    }
    if (!answers.length) {
      note.textContent = 'Answer a question first (A approve, R reject, E edit, 1–9 choose), or skip with S.';
      return;
    }
    send({lease_id: cur.lease.id, answers});
  }

  // Skip and escalate wait UNDO_MS with an Undo button (and U, Ctrl+Z) before they are sent; the
  // next task is shown at once.
  function act(kind) {
    if (busy()) return;
    if (cur.lost) { drop(cur); return; }
    flush();
    const s = cur, body = stamp(s, {lease_id: s.lease.id, kind});
    const box = el('div', {class: 'toastmsg undo', role: 'status'}, `${kind === 'skip' ? 'Skipped' : 'Escalated'} task ${s.task.id}. `,
      el('button', {type: 'button', id: 'undo', 'aria-keyshortcuts': 'U Control+Z', onclick: () => undo()}, `Undo ${kind}`, kbd('U')));
    document.getElementById('toast').append(box);
    held = {s, body, box, timer: setTimeout(flush, UNDO_MS)};
    if (ahead.length) next(performance.now());
    else advance();
  }

  // Sends the skip or escalate waiting for its Undo, if any, now.
  function flush(keepalive) {
    const h = held;
    if (!h) return;
    held = null;
    clearTimeout(h.timer);
    h.box.remove();
    post(h.s, h.body, keepalive);
  }

  // Takes the waiting skip or escalate back: its task is shown again as it was left.
  function undo() {
    const h = held;
    if (!h) return false;
    held = null;
    clearTimeout(h.timer);
    h.box.remove();
    if (cur && cur !== h.s) ahead.unshift(cur);
    while (ahead.length > 1) release(ahead.pop());
    show(h.s);
    announce.textContent = `Undone: task ${h.s.task.id} is back.`;
    return true;
  }

  function drop(s) {
    s.done = true;
    advance();
  }

  // Adds the comment and the time spent on s to the response body b.
  function stamp(s, b) {
    if (comment.value.trim()) b.comment = comment.value;
    b.time_spent_ms = Math.round(performance.now() - s.first);
    return b;
  }

  // Sends an answer and shows the prefetched task at once; a failed send brings the task back.
  function send(body) {
    const t0 = performance.now();
    post(cur, stamp(cur, body));
    next(t0);
  }

  // Shows the prefetched task (t0: when the reviewer answered), or waits for one.
  function next(t0) {
    if (ahead.length) {
      show(ahead.shift());
      perf.push({ms: performance.now() - t0, prefetched: true});
      prefetch();
    } else {
      for (const b of [bSkip, bEsc, bSubmit]) b.disabled = true;
      paintQuick();
      note.textContent = 'Saving…';
    }
  }

  function post(s, body, keepalive) {
    s.done = true;
    clearTimeout(s.timer);
    api('POST', `/v1/tasks/${seg(s.task.id)}/responses`, body, keepalive ? {keepalive: true} : undefined).then(() => {
      forget(s);
      if (today !== null) { today++; setCount(); }
      if (cur === s) { advance(); }
    }, (e) => failed(s, e));
  }

  function failed(s, e) {
    if (stopped) return;
    s.done = false;
    if (e.status === 409) { s.lost = true; s.msg = LOST; }
    else { s.msg = `Your answer was not saved: ${e.message}. Fix it and press Enter again.`; renewLater(s); }
    if (cur && cur !== s) ahead.unshift(cur);
    while (ahead.length > 1) release(ahead.pop());
    show(s);
  }

  function moveActive(d) {
    const n = cur.widgets.length;
    for (let i = 1; i <= n; i++) {
      const j = (cur.active + d * i + n * n) % n;
      if (cur.widgets[j].digits) { cur.active = j; break; }
    }
    paintState();
    cur.widgets[cur.active]?.el.scrollIntoView({block: 'nearest'});
  }

  function onKey(e) {
    const t = e.target;
    const typing = t.matches && t.matches('textarea, select, input:not([type=radio]):not([type=checkbox])');
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); return; }
    if (e.key.toLowerCase() === 'z' && (e.ctrlKey || e.metaKey) && !typing && held) { e.preventDefault(); undo(); return; }
    if (typing) {
      if (e.key === 'Escape') { t.blur(); e.preventDefault(); }
      return;
    }
    const k = shortcut(e);
    if (!k || e.defaultPrevented || help.open) return;
    if (k === '?') { help.showModal(); return; }
    if (k === 'u' && undo()) { e.preventDefault(); return; }
    if (!cur) return;
    let done = true;
    if (k === 'Enter') {
      // Enter presses the focused button, link or toggle (the browser does that); it submits
      // from anywhere else.
      if (t.closest('button, a[href], summary, [role=button], [role=link]')) return;
      if (t.matches('input[type=checkbox], input[type=radio]')) t.click(); else submit();
    }
    else if (/^[0-9]$/.test(k)) done = !!cur.widgets[cur.active]?.digit(Number(k));
    else if (k === 'a' || k === 'r' || k === 'e') {
      const w = cur.widgets.find((x) => x.key);
      if (w) w.key(k);
      else if (k === 'e') cur.widgets.find((x) => x.editor)?.editor.focus();
      else done = false;
    } else if (k === 's') act('skip');
    else if (k === 'x') act('escalate');
    else if (k === 'n' && cur.lost) drop(cur);
    else if (k === 'c') comment.focus();
    else if (k === 'q') location.hash = '#/review'; /* Back to the queues; the cleanup gives the leases back. */
    else if (k === 'j' || k === 'k') moveActive(k === 'j' ? 1 : -1);
    else done = false;
    if (done) e.preventDefault();
  }

  // The digits go to the question focused or clicked (anywhere in it).
  const follow = (e) => {
    if (!cur) return;
    const i = cur.widgets.findIndex((w) => w.el.contains(e.target) || w.box?.contains(e.target));
    if (i >= 0 && cur.widgets[i].digits && i !== cur.active) { cur.active = i; paintState(); }
  };
  root.addEventListener('focusin', follow);
  root.addEventListener('pointerdown', follow);
  const onHide = () => { flush(true); for (const s of [cur, ...ahead]) release(s); };
  // On a phone the answer bar is fixed at the bottom: a control focused under it is scrolled up.
  const unhide = (e) => requestAnimationFrame(() => {
    const t = e.target;
    if (t !== document.activeElement || actionbar.contains(t) || getComputedStyle(actionbar).position !== 'fixed') return;
    const over = t.getBoundingClientRect().bottom - actionbar.getBoundingClientRect().top + 8;
    if (over > 0) window.scrollBy(0, over);
  });
  root.addEventListener('focusin', unhide);
  const onVis = () => {
    if (document.visibilityState === 'hidden') { while (ahead.length) release(ahead.pop()); }
    else prefetch();
  };
  const onShow = (e) => { if (e.persisted) location.reload(); };
  document.addEventListener('keydown', onKey);
  document.addEventListener('visibilitychange', onVis);
  window.addEventListener('pagehide', onHide);
  window.addEventListener('pageshow', onShow);

  api('GET', `/v1/queues/${seg(queue)}`).then((q) => {
    schema = q.config.schema;
    leaseSeconds = q.config.assignment.lease_seconds || 600;
    prefetch();
  }).catch((e) => empty(e.status === 404 ? `No queue named ${queue}` : e.message));

  return () => {
    stopped = true;
    clearTimeout(pollTimer);
    onHide();
    ahead.length = 0;
    document.removeEventListener('keydown', onKey);
    root.removeEventListener('focusin', follow);
    root.removeEventListener('focusin', unhide);
    root.removeEventListener('pointerdown', follow);
    document.removeEventListener('visibilitychange', onVis);
    window.removeEventListener('pagehide', onHide);
    window.removeEventListener('pageshow', onShow);
  };
}

function helpDialog() {
  const rows = [['A', 'approve'], ['R', 'reject'], ['E', 'edit the suggestion (modify)'], ['1–9', 'choose a label, stars, the better candidate, or a span label'],
    ['J / K', 'next / previous question for 1–9'], ['Shift+arrows', 'select text in a span question'],
    ['S', 'skip (with a few seconds to undo)'], ['X', 'escalate to an arbiter (with a few seconds to undo)'],
    ['U, Ctrl+Z', 'undo the skip or escalate just made'], ['C', 'comment'],
    ['Enter', 'press the focused button, link or toggle; elsewhere, submit'], ['Ctrl+Enter', 'submit from anywhere, text boxes too'],
    ['Esc', 'leave a text box'], ['N', 'next task after a lost lease'], ['Q', 'back to the queues']];
  const mode = el('select', {id: 'keymode', onchange: () => {
    try { localStorage.setItem(KEYMODE, mode.value); } catch { /* private mode */ }
    showKeyMode();
  }},
    el('option', {value: 'on', text: 'On'}), el('option', {value: 'alt', text: 'Only with Alt held'}), el('option', {value: 'off', text: 'Off'}));
  mode.value = keyMode();
  const d = el('dialog', {class: 'help', 'aria-labelledby': 'keysh'},
    el('h2', {id: 'keysh', text: 'Keys'}),
    el('p', {class: 'row'}, el('label', {for: 'keymode', text: 'Single-character keys (letters, digits, ?)'}), mode),
    el('table', {}, rows.map(([k, v]) => el('tr', {}, el('th', {}, el('kbd', {text: k})), el('td', {text: v})))),
    el('form', {method: 'dialog'}, el('button', {class: 'primary', text: 'Close'})));
  // The keys of the audio player and of the image of a boxes question.
  d.querySelector('table').append(...[...AUDIO_KEYS, ...BOX_KEYS].map(([k, v]) => el('tr', {}, el('th', {}, el('kbd', {text: k})), el('td', {text: v}))));
  return d;
}
