// SPDX-License-Identifier: MIT
// The transcription question: the model's transcript to correct, its word diff, segment times.
import {el, diffView} from './util.js';

// The model's transcript: output (or output[name]) as a string or as {text, segments}.
export function suggestedTranscript(output, name) {
  const o = output && typeof output === 'object' && output[name] !== undefined ? output[name] : output;
  if (typeof o === 'string') return {text: o};
  if (!o || typeof o.text !== 'string') return null;
  const segs = Array.isArray(o.segments) ? o.segments.filter((s) => s && Number.isFinite(s.start) &&
    Number.isFinite(s.end) && typeof s.text === 'string') : [];
  return {text: o.text, segments: segs.map(({start, end, text}) => ({start, end, text}))};
}

// Builds the widget (the contract of questions.js): the editor, the diff against the
// suggestion, and the segments table when there are segments. The audio keys (audio.js) work
// in all of it, on the audio of q.field.
export function transcription(q, task, st, changed) {
  const sugg = suggestedTranscript(task.output, q.name);
  if (st.text === undefined) { st.text = sugg ? sugg.text : ''; st.segs = sugg && sugg.segments; }
  const area = el('textarea', {class: 'editor', rows: 5, spellcheck: 'true', value: st.text,
                               'aria-label': `Transcript of ${q.field}`});
  const err = el('div', {class: 'fielderr', role: 'alert'});
  const diffBox = el('div', {class: 'livediff'});
  const rows = el('tbody');
  const table = el('table', {class: 'segs'}, el('caption', {class: 'sub', text: 'Segments (seconds)'}),
    el('thead', {}, el('tr', {}, ['Start', 'End', 'Text', ''].map((h) => el('th', {text: h})))), rows);
  const audio = () => document.querySelector(`main .audiobox[data-field="${CSS.escape(q.field)}"]`)?.audio;
  const edit = () => { st.touched = true; err.textContent = ''; changed(); };
  const redraw = () => {
    if (sugg) diffBox.replaceChildren(diffView(sugg.text, area.value, 'Suggestion', 'Your transcript'));
  };
  let pend = 0;
  area.addEventListener('input', () => {
    st.text = area.value;
    edit();
    clearTimeout(pend);
    pend = setTimeout(redraw, 120);
  });
  const input = (s, k, label, attrs) => {
    const n = el('input', {value: String(s[k]), 'aria-label': label, ...attrs});
    n.addEventListener('input', () => { s[k] = attrs.type ? (n.value === '' ? NaN : Number(n.value)) : n.value; edit(); });
    return n;
  };
  const paint = () => {
    table.hidden = !(st.segs && st.segs.length);
    rows.replaceChildren(...(st.segs || []).map((s, i) => el('tr', {},
      ['start', 'end'].map((k) => el('td', {}, input(s, k, `${k === 'start' ? 'Start' : 'End'} of segment ${i + 1}, seconds`,
                                                     {type: 'number', min: 0, step: 0.1, class: 'num'}))),
      el('td', {}, input(s, 'text', `Text of segment ${i + 1}`, {})),
      el('td', {},
        el('button', {type: 'button', class: 'link', text: '▶', 'aria-label': `Play segment ${i + 1}`,
                      onclick: () => { const a = audio(); if (a) { a.currentTime = s.start || 0; a.play().catch(() => {}); } }}),
        el('button', {type: 'button', class: 'link', text: '×', 'aria-label': `Delete segment ${i + 1}`,
                      onclick: () => { st.segs.splice(i, 1); paint(); edit(); }})))));
  };
  const add = el('button', {type: 'button', class: 'link', text: 'Add a segment at the playback time', onclick: () => {
    const t = Math.round((audio()?.currentTime || 0) * 10) / 10;
    (st.segs = st.segs || []).push({start: t, end: t + 1, text: ''});
    paint();
    edit();
    rows.lastChild.querySelector('input').focus();
  }});
  paint();
  redraw();
  return {el: el('section', {'data-audio': q.field}, area, err, diffBox, table, add), st, editor: area,
    focus: () => area.focus(),
    answer(alone) {
      if (!st.touched && !(alone && st.text)) return null;
      const value = {text: area.value};
      if (st.segs && st.segs.length) {
        const bad = st.segs.findIndex((s) => !(s.start >= 0 && s.end > s.start));
        if (bad >= 0) {
          err.textContent = `Segment ${bad + 1}: times are seconds with 0 ≤ start < end.`;
          return {error: err.textContent, focus: rows.children[bad].querySelector('input')};
        }
        value.segments = st.segs.map(({start, end, text}) => ({start, end, text}));
      }
      return {question: q.name, kind: 'transcription', value};
    }};
}
