// SPDX-License-Identifier: MIT
// The audio_url field: the browser's audio element with play/pause, back 5 s and speed on keys.
import {el} from './util.js';

const AUDIO = /^(https?:\/\/|data:audio\/)/i;
const RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
// Alt with a letter or a comma/period: they work inside the transcript's text box too, and
// clash with none of the workspace's keys, also with its single keys put behind Alt (P and B are
// none of them). e.code, so Option on a Mac works as well.
export const AUDIO_KEYS = [['Alt+P', 'play / pause the audio'], ['Alt+B', 'audio back 5 s'],
  ['Alt+, / Alt+.', 'audio slower / faster (0.5× to 2×)']];

// The player of the audio at url (field name); the audio element is player.audio.
export function audioView(name, url) {
  if (!AUDIO.test(url)) return el('p', {class: 'warn', text: 'not an http(s) audio URL: ' + url});
  const audio = el('audio', {controls: true, preload: 'metadata', src: url, 'aria-label': `Audio of field ${name}`});
  const kb = (k) => el('kbd', {class: 'fixed', 'aria-hidden': 'true', text: k}); // Shown whatever the keys setting.
  const rate = el('span', {class: 'rate', role: 'status', text: 'Speed 1×'});
  const play = el('button', {type: 'button', 'aria-keyshortcuts': 'Alt+P', onclick: () => toggle(audio)}, 'Play', kb('Alt+P'));
  const box = el('div', {class: 'audiobox', 'data-field': name}, audio,
    el('div', {class: 'row'}, play,
      el('button', {type: 'button', 'aria-keyshortcuts': 'Alt+B', onclick: () => back(audio)}, 'Back 5 s', kb('Alt+B')),
      el('button', {type: 'button', 'aria-keyshortcuts': 'Alt+,', onclick: () => speed(audio, -1)}, 'Slower', kb('Alt+,')),
      rate,
      el('button', {type: 'button', 'aria-keyshortcuts': 'Alt+.', onclick: () => speed(audio, 1)}, 'Faster', kb('Alt+.'))));
  const paint = () => { play.firstChild.textContent = audio.paused ? 'Play' : 'Pause'; };
  audio.addEventListener('play', paint);
  audio.addEventListener('pause', paint);
  audio.addEventListener('ratechange', () => { rate.textContent = `Speed ${audio.playbackRate}×`; });
  box.audio = audio;
  return box;
}

const toggle = (a) => (a.paused ? a.play().catch(() => {}) : a.pause());
const back = (a) => { a.currentTime = Math.max(0, a.currentTime - 5); };
function speed(a, d) {
  const i = RATES.findIndex((r) => r >= a.playbackRate - 1e-9);
  a.playbackRate = RATES[Math.min(RATES.length - 1, Math.max(0, (i < 0 ? 2 : i) + d))];
}

// The audio the keys act on: the one of the field the focus is in (the player or a transcript
// naming it with data-audio), else the first one on the page.
function target() {
  const f = document.activeElement?.closest('[data-audio], .audiobox');
  const name = f && (f.dataset.audio || f.dataset.field);
  const box = (name && document.querySelector(`main .audiobox[data-field="${CSS.escape(name)}"]`)) ||
              document.querySelector('main .audiobox');
  return box && box.audio;
}

document.addEventListener('keydown', (e) => {
  if (!e.altKey || e.ctrlKey || e.metaKey) return;
  const f = {KeyP: toggle, KeyB: back, Comma: (a) => speed(a, -1), Period: (a) => speed(a, 1)}[e.code];
  const a = f && target();
  if (!a) return;
  e.preventDefault();
  f(a);
});
