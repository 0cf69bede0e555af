// SPDX-License-Identifier: MIT
// The app shell: session (sign-in, sign-out), header navigation and the hash router.
import {api, setCsrf, onUnauthorized} from './api.js';
import {el, toast} from './util.js';
import * as review from './review.js';
import * as history from './history.js';
import * as dashboard from './dashboard.js';
import * as config from './config.js';
import * as audit from './audit.js';
import * as runs from './runs.js';

const views = {
  review: {mod: review, title: 'Review'},
  history: {mod: history, title: 'History'},
  dashboard: {mod: dashboard, title: 'Dashboard', orch: true},
  config: {mod: config, title: 'Queues', orch: true},
  audit: {mod: audit, title: 'Audit', orch: true},
  runs: {mod: runs, title: 'Runs'},
};

let session = null;
let cleanup = null;
const main = document.getElementById('main');
const top = document.getElementById('top');

const isOrch = () => !!session && session.roles.includes('orchestrator');

function header(current) {
  if (!session) { top.hidden = true; return; }
  top.hidden = false;
  const links = Object.entries(views).filter(([, v]) => !v.orch || isOrch()).map(([k, v]) =>
    el('a', {href: '#/' + k, 'aria-current': k === current ? 'page' : null, text: v.title}));
  top.replaceChildren(
    el('a', {class: 'brand', href: '#/review', 'aria-label': 'hitl home'}, 'hitl'),
    el('nav', {'aria-label': 'Main'}, links),
    el('span', {class: 'who', title: session.roles.join(', ')}, session.name,
       el('span', {class: 'roles', text: ' · ' + session.roles.join(', ')})),
    el('button', {type: 'button', id: 'signout', class: 'link', onclick: signOut, text: 'Sign out'}));
}

function signIn(root) {
  const input = el('input', {id: 'token', type: 'password', autocomplete: 'current-password', required: true,
                             spellcheck: 'false', 'aria-describedby': 'tokenhelp'});
  const err = el('p', {class: 'fielderr', role: 'alert', id: 'signinerr'});
  const go = el('button', {type: 'submit', class: 'primary', text: 'Sign in'});
  const form = el('form', {class: 'signin', 'aria-labelledby': 'signinh'},
    el('h1', {id: 'signinh', text: 'Sign in to hitl'}),
    el('label', {for: 'token', text: 'Access token'}), input,
    el('p', {class: 'hint', id: 'tokenhelp',
             text: 'Paste the token you were given (hitl_…). It is exchanged for a session cookie; the page never stores it.'}),
    err, go);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    go.disabled = true;
    try {
      session = await api('POST', '/v1/session', {token: input.value.trim()}, {noAuthRedirect: true});
      setCsrf(session.csrf);
      input.value = '';
      const back = sessionStorage.getItem('hitl.after-signin');
      sessionStorage.removeItem('hitl.after-signin');
      if (back && back !== location.hash) location.hash = back; else route();
    } catch (x) {
      err.textContent = x.status === 401 ? 'This token is unknown or revoked. Check it and try again.' : x.message;
      input.focus();
    } finally { go.disabled = false; }
  });
  root.replaceChildren(el('div', {class: 'page narrow'}, form));
  input.focus();
  return null;
}

async function signOut() {
  if (cleanup) { cleanup(); cleanup = null; }
  try { await api('DELETE', '/v1/session', undefined, {noAuthRedirect: true}); } catch (e) { toast(e.message, 'error'); }
  session = null;
  setCsrf(null);
  location.hash = '#/signin';
  route();
}

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  let name = parts.shift() || 'review';
  if (!session) {
    if (name !== 'signin') sessionStorage.setItem('hitl.after-signin', location.hash);
    header(null);
    document.title = 'Sign in · hitl';
    cleanup = signIn(main);
    return;
  }
  if (!views[name] || (views[name].orch && !isOrch())) name = 'review';
  header(name);
  document.title = `${views[name].title} · hitl`;
  cleanup = views[name].mod.mount(main, {session, isOrch: isOrch()}, parts) || null;
}

onUnauthorized(() => {
  if (!session) return;
  session = null;
  setCsrf(null);
  toast('Your session ended; sign in again.', 'error');
  route();
});

(async () => {
  try {
    session = await api('GET', '/v1/session', undefined, {noAuthRedirect: true});
    setCsrf(session.csrf);
  } catch { session = null; }
  window.addEventListener('hashchange', route);
  route();
})();
