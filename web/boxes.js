// SPDX-License-Identifier: MIT
// The boxes question: labelled rectangles on an image, by mouse, touch or keyboard.
import {el} from './util.js';

const STEP = 0.5, BIG = 5, MIN = 0.5;   // Percent of the image: a nudge, a Shift+nudge, the least side.
const r2 = (v) => Math.round(v * 100) / 100;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const kbd = (k) => el('kbd', {'aria-hidden': 'true', text: k});
const KEYS = [['Space', 'next box (Shift: previous)'], ['arrows', `move ${STEP} % (Shift: ${BIG} %)`],
  ['Alt+arrows', 'resize'], ['1–9 / L', 'label / next label'], ['B', 'new box in the middle'],
  ['Y', 'accept a suggestion'], ['Delete', 'delete'], ['Esc', 'unselect']];
export const BOX_KEYS = KEYS.map(([k, v]) => [k, 'boxes: ' + v]);

// The model's boxes: output.boxes, or output[name].boxes, in the answer's shape.
export function suggestedBoxes(output, name) {
  const o = output && typeof output === 'object' && output[name] && typeof output[name] === 'object' ? output[name] : output;
  return o && Array.isArray(o.boxes) ? o.boxes : [];
}

// Builds the widget (the contract of questions.js). w.box, the image with its boxes, goes into
// the field's place in the task; w.el holds the labels, the list of boxes and the keys.
export function boxes(q, task, st, changed) {
  const labels = q.labels || [];
  const fine = (b) => b && labels.includes(b.label) && [b.x, b.y, b.width, b.height].every(Number.isFinite) &&
    b.x >= 0 && b.y >= 0 && b.width > 0 && b.height > 0 && b.x + b.width <= 100.01 && b.y + b.height <= 100.01;
  const sugg = suggestedBoxes(task.output, q.name);
  if (!st.boxes) {
    st.boxes = sugg.filter(fine).map(({label, x, y, width, height}) => ({label, x, y, width, height, s: 1}));
    st.sel = -1;
    st.label = labels[0];
  }
  const left = sugg.length - sugg.filter(fine).length;
  const img = el('img', {src: String((task.input || {})[q.field] ?? ''), alt: `Image of field ${q.field}`, draggable: false});
  const over = el('div', {class: 'bover'});
  const stage = el('div', {class: 'bstage', tabindex: '0', role: 'application',
    'aria-label': `Boxes on ${q.field}: drag to draw; ` + KEYS.map(([k, v]) => `${k}: ${v}`).join('; ')},
    el('div', {class: 'bframe'}, img, over));
  const status = el('div', {class: 'hint bstatus', role: 'status'});
  img.addEventListener('error', () => { status.textContent = `The image did not load: ${img.src}`; });
  const list = el('ol', {class: 'boxlist', 'aria-label': 'Boxes'});
  const legend = el('div', {class: 'legend'});
  const acceptAll = el('button', {type: 'button', onclick: () => {
    for (const b of st.boxes) b.s = 0;
    done('All suggestions accepted.');
  }}, 'Accept all suggestions');
  const cls = (b) => 'k' + (labels.indexOf(b.label) % 8);
  const describe = (i) => {
    const b = st.boxes[i];
    return b ? `Box ${i + 1} of ${st.boxes.length}: ${b.label}${b.s ? ', suggested' : ''}, at ${b.x} %, ${b.y} %, ` +
      `${b.width} by ${b.height} %` : `${st.boxes.length} boxes; new ones get ${st.label}.`;
  };
  const place = (n, b) => {
    n.style.left = b.x + '%'; n.style.top = b.y + '%'; n.style.width = b.width + '%'; n.style.height = b.height + '%';
  };
  const paint = () => {
    over.replaceChildren(...st.boxes.map((b, i) => {
      const n = el('div', {class: `bbox ${cls(b)}${b.s ? ' sugg' : ''}${i === st.sel ? ' sel' : ''}`, 'data-i': i},
        el('span', {class: 'btag', text: b.label}),
        i === st.sel ? ['nw', 'ne', 'sw', 'se'].map((h) => el('span', {class: 'bh ' + h, 'data-h': h})) : null);
      place(n, b);
      return n;
    }));
    list.replaceChildren(...st.boxes.map((b, i) => el('li', {class: i === st.sel ? 'sel' : ''},
      el('button', {type: 'button', class: 'link', 'aria-pressed': String(i === st.sel), onclick: () => { select(i); stage.focus(); }},
        `${i + 1}. ${b.label}${b.s ? ' (suggested)' : ''}`),
      el('button', {type: 'button', class: 'x', text: '×', 'aria-label': `Delete box ${i + 1}, ${b.label}`,
                    onclick: () => { remove(i); }}))));
    legend.replaceChildren(...labels.map((l, i) => el('button', {type: 'button', class: `chip ${l === st.label ? 'on ' : ''}k${i % 8}`,
      'aria-pressed': String(l === st.label), onclick: () => pick(l)}, i < 9 ? kbd(String(i + 1)) : null, l)));
    acceptAll.hidden = !st.boxes.some((b) => b.s);
  };
  // The label of the selected box and of the boxes drawn next.
  const pick = (l) => {
    st.label = l;
    const b = st.boxes[st.sel];
    if (b) { Object.assign(b, {label: l, s: 0}); done(); } else select(-1);
  };
  const done = (say) => { st.touched = true; paint(); status.textContent = say || describe(st.sel); changed(); };
  const select = (i) => { st.sel = i; paint(); status.textContent = describe(i); };
  const remove = (i) => {
    const b = st.boxes.splice(i, 1)[0];
    st.sel = st.boxes.length ? Math.min(i, st.boxes.length - 1) : -1;
    done(`Deleted box ${i + 1} (${b.label}). ` + describe(st.sel));
  };
  // Sets box b to the rectangle (x1, y1)-(x2, y2), kept inside the image, rounded to 0.01 %.
  const setRect = (b, x1, y1, x2, y2) => {
    x1 = r2(clamp(x1, 0, 100 - MIN)); y1 = r2(clamp(y1, 0, 100 - MIN));
    x2 = r2(clamp(x2, x1 + MIN, 100)); y2 = r2(clamp(y2, y1 + MIN, 100));
    Object.assign(b, {x: x1, y: y1, width: r2(x2 - x1), height: r2(y2 - y1), s: 0});
  };
  const move = (b, dx, dy, o = b) => {
    const x = clamp(o.x + dx, 0, 100 - o.width), y = clamp(o.y + dy, 0, 100 - o.height);
    setRect(b, x, y, x + o.width, y + o.height);
  };

  // Mouse, pen and touch: drag on the image draws, on a box moves it, on a corner resizes it.
  let drag = null;
  const at = (e) => {
    const r = over.getBoundingClientRect();
    return {x: clamp((e.clientX - r.left) / r.width * 100, 0, 100), y: clamp((e.clientY - r.top) / r.height * 100, 0, 100)};
  };
  over.addEventListener('pointerdown', (e) => {
    if (e.button > 0) return;
    e.preventDefault();
    stage.focus({preventScroll: true});
    const p = at(e), h = e.target.dataset.h, hit = e.target.closest('.bbox');
    if (hit && !h) select(Number(hit.dataset.i));
    const b = h || hit ? st.boxes[st.sel] : null;
    drag = {p, h: h || (hit ? 'move' : 'new'), b, o: b && {...b}, n: null};
    over.setPointerCapture(e.pointerId);
  });
  over.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const p = at(e), d = drag, dx = p.x - d.p.x, dy = p.y - d.p.y;
    d.moved = true;
    if (d.h === 'new') {
      if (!d.b) {
        if (Math.abs(dx) < 1 && Math.abs(dy) < 1) return;
        d.b = {label: st.label, x: 0, y: 0, width: 0, height: 0, s: 0};
        st.boxes.push(d.b);
        st.sel = st.boxes.length - 1;
        paint();
      }
      setRect(d.b, Math.min(p.x, d.p.x), Math.min(p.y, d.p.y), Math.max(p.x, d.p.x), Math.max(p.y, d.p.y));
    } else if (d.h === 'move') move(d.b, dx, dy, d.o);
    else {
      const o = d.o, w = d.h.includes('w'), n = d.h.includes('n');
      const x1 = w ? Math.min(o.x + dx, o.x + o.width - MIN) : o.x, y1 = n ? Math.min(o.y + dy, o.y + o.height - MIN) : o.y;
      setRect(d.b, x1, y1, w ? o.x + o.width : o.x + o.width + dx, n ? o.y + o.height : o.y + o.height + dy);
    }
    place(over.children[st.sel], d.b);
  });
  const end = () => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.b && d.moved) done(); else if (d.h === 'new') select(-1);
  };
  over.addEventListener('pointerup', end);
  over.addEventListener('pointercancel', end);

  stage.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey) return;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key, b = st.boxes[st.sel], n = st.boxes.length;
    const d = e.shiftKey ? BIG : STEP;
    const arrow = {ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, -d], ArrowDown: [0, d]}[k];
    if (e.altKey && !arrow) return;      // Alt with a letter is the audio's (audio.js).
    if (k === ' ' && n) select(((st.sel < 0 && e.shiftKey ? 0 : st.sel) + (e.shiftKey ? -1 : 1) + n) % n);
    else if (arrow && b) {
      if (e.altKey) setRect(b, b.x, b.y, b.x + b.width + arrow[0], b.y + b.height + arrow[1]);
      else move(b, arrow[0], arrow[1]);
      done();
    } else if ((k === 'Delete' || k === 'Backspace') && b) remove(st.sel);
    else if (k === 'b' || k === 'Insert') {
      st.boxes.push({label: st.label, x: 40, y: 40, width: 20, height: 20, s: 0});
      st.sel = n;
      done();
    } else if (k === 'l' && labels.length) pick(labels[(labels.indexOf(b ? b.label : st.label) + 1) % labels.length]);
    else if (k === 'y' && b && b.s) { b.s = 0; done(); }
    else if (k === 'Escape' && b) select(-1);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  paint();
  status.textContent = describe(-1);
  return {el: el('section', {}, legend, left ? el('p', {class: 'warn', text: `${left} suggested boxes do not fit this question and were left out.`}) : null,
                 el('div', {class: 'row'}, acceptAll), list,
                 el('details', {class: 'hint'}, el('summary', {text: 'Keys on the image'}),
                    el('ul', {}, KEYS.map(([k, v]) => el('li', {}, el('kbd', {text: k}), ' ' + v))))),
    box: el('div', {}, stage, status), st, digits: true,
    focus: () => stage.focus(),
    digit: (i) => labels[i - 1] !== undefined && (pick(labels[i - 1]), true),
    answer(alone) {
      if (!st.touched && !(alone && st.boxes.length)) return null;
      if (!img.naturalWidth) return {error: 'The image has not loaded, and its size goes with the boxes.', focus: stage};
      return {question: q.name, kind: 'boxes', value: {
        boxes: st.boxes.map(({label, x, y, width, height}) => ({label, x, y, width, height})),
        image_width: img.naturalWidth, image_height: img.naturalHeight}};
    }};
}
