// SPDX-License-Identifier: MIT
// Helpers of the browser tests: API calls, the browser, sign-in, screenshots.
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import {chromium} from 'playwright-core';

// axe-core's source, evaluated in the page through the debugging protocol (the page's CSP
// allows no inline script).
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const BASE = process.env.HITL_URL;
export const ADMIN = process.env.HITL_ADMIN_TOKEN;
assert.ok(BASE && ADMIN, 'run these tests with tests/ui/run.sh (HITL_URL, HITL_ADMIN_TOKEN)');

// The tokens made by seed.mjs: {alice, bob, dave, agent}.
export const tokens = () => JSON.parse(fs.readFileSync(process.env.HITL_UI_STATE, 'utf8')).tokens;

// Calls the API with a bearer token; resolves to {status, body}.
export async function call(token, method, p, body) {
  const r = await fetch(BASE + p, {method, headers: {Authorization: 'Bearer ' + token},
                                   body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await r.text();
  return {status: r.status, body: text ? JSON.parse(text) : null};
}

// Like call, but fails unless the status is 2xx; resolves to the body.
export async function ok(token, method, p, body) {
  const r = await call(token, method, p, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Starts headless chromium (a fresh temporary profile each time).
export function launch() {
  return chromium.launch({executablePath: process.env.HITL_CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS});
}

// A new page of its own context (own cookies); page errors are collected in page.errors.
// options go to the context too (e.g. {hasTouch: true}).
export async function newPage(browser, viewport = {width: 1280, height: 800}, options = {}) {
  const context = await browser.newContext({viewport, deviceScaleFactor: 1, ...options});
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // The page asks GET /v1/session first; signed out, the browser logs that 401 as an error.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) page.errors.push(m.text()); });
  page.setDefaultTimeout(8000);
  return page;
}

// Signs in with token through the form and waits for the header.
export async function signIn(page, token, hash = '') {
  await page.goto(BASE + '/' + hash);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('#signout').waitFor();
}

// The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page, one line each:
// "rule-id: target (summary)".
export async function axe(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
  const r = await page.evaluate(() => window.axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']}));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${n.failureSummary.replace(/\s+/g, ' ').slice(0, 160)})`));
}

// Fails on any serious or critical axe-core violation of the screen called name.
export async function accessible(page, name) {
  assert.deepEqual(await axe(page), [], `axe-core (WCAG 2.1 A/AA) on screen ${name}`);
}

// Checks that every visible control of the screen has an accessible name and that axe-core finds
// no serious violation, then saves a screenshot of the page as NAME.png in $HITL_SCREENSHOTS.
export async function shot(page, name, opts = {}) {
  assert.deepEqual(await unlabeled(page), [], `controls without an accessible name on screen ${name}`);
  await accessible(page, name);
  const dir = process.env.HITL_SCREENSHOTS;
  if (!dir) return;
  await page.evaluate(() => document.fonts && document.fonts.ready);
  await page.screenshot({path: path.join(dir, name + '.png'), ...opts});
}

// The id of the task shown in the workspace (waits for one).
export async function shownTask(page) {
  await page.locator('main[data-task-id] #submit:not([disabled])').waitFor();
  return page.locator('main').getAttribute('data-task-id');
}

// Waits for the workspace to show a task other than id; returns the new id.
export async function nextTask(page, id) {
  await page.waitForFunction((old) => {
    const m = document.querySelector('main');
    const b = document.getElementById('submit');
    return m.dataset.taskId && m.dataset.taskId !== old && b && !b.disabled;
  }, id);
  return page.locator('main').getAttribute('data-task-id');
}

// Polls GET /v1/tasks/{id}?wait= until the task is decided; resolves to it.
export async function decided(id) {
  const t = await ok(ADMIN, 'GET', `/v1/tasks/${id}?wait=5`);
  assert.equal(t.state, 'decided', `task ${id} should be decided`);
  return t;
}

// From now on, notes in window.hitlT the milliseconds from each Enter (capture phase) to the
// next task shown with its Submit button enabled.
export function timeAnswers(page) {
  return page.evaluate(() => {
    window.hitlT = [];
    addEventListener('keydown', (e) => { if (e.key === 'Enter') window.hitlT0 = performance.now(); }, true);
    new MutationObserver(() => {
      const b = document.getElementById('submit');
      if (window.hitlT0 && b && !b.disabled) { window.hitlT.push(performance.now() - window.hitlT0); window.hitlT0 = 0; }
    }).observe(document.querySelector('main'), {attributes: true, attributeFilter: ['data-task-id']});
  });
}

// Appends a line to the bench file given by HITL_UI_BENCH, and prints it.
export function report(line) {
  console.log('# ' + line);
  if (process.env.HITL_UI_BENCH) fs.appendFileSync(process.env.HITL_UI_BENCH, line + '\n');
}

// The controls on the page that have no accessible name (should be none).
export function unlabeled(page) {
  return page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, a, [tabindex="0"], canvas')]
    .filter((n) => n.getClientRects().length && !(n.getAttribute('aria-label') || n.getAttribute('aria-labelledby') ||
      (n.labels && n.labels.length) || n.textContent.trim() || n.title))
    .map((n) => n.outerHTML.slice(0, 80)));
}
