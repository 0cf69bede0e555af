// SPDX-License-Identifier: MIT
// The orchestrator's screens in a real browser: dashboard (live), config editor, audit, history;
// phone-sized views; the size of the embedded UI.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {ADMIN, BASE, ok, tokens, launch, newPage, signIn, shot, shownTask, nextTask, decided, report} from './lib.mjs';

let browser, T;
before(async () => { browser = await launch(); T = tokens(); });
after(async () => { await browser?.close(); });

const cell = (page, queue, col) => page.locator(`#queues td[data-queue="${queue}"][data-col="${col}"]`);

test('the dashboard counts change live after a decision made over the API', async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/dashboard');
  await page.locator('.live.on').waitFor();
  const before = Number(await cell(page, 'ops', 'decided').innerText());
  const pending = Number(await cell(page, 'ops', 'pending').innerText());
  await page.locator('#depth').waitFor();
  assert.ok(await page.evaluate(() => typeof window.Chart === 'function'), 'Chart.js loaded');
  // Bob decides one ops task over the API.
  const t = await ok(T.bob, 'POST', '/v1/queues/ops/claim');
  await ok(T.bob, 'POST', `/v1/tasks/${t.id}/responses`, {lease_id: t.lease.id, kind: 'approve', time_spent_ms: 1200});
  // The event stream makes the page fetch the numbers again, well before its 10 s timer.
  await page.waitForFunction(([b]) => Number(document.querySelector('#queues td[data-queue="ops"][data-col="decided"]').textContent) === b + 1,
                             [before], {timeout: 5000});
  assert.equal(Number(await cell(page, 'ops', 'pending').innerText()), pending - 1);
  await page.locator('.ticker li', {hasText: 'task.decided'}).first().waitFor();
  await shot(page, 'dashboard', {fullPage: true});
  assert.deepEqual(page.errors, []);

  // On a phone.
  await page.setViewportSize({width: 390, height: 844});
  // The charts follow the new width (Chart.js resizes on a ResizeObserver): then nothing sticks out.
  await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
                             null, {timeout: 3000});
  await shot(page, 'phone-dashboard');
  await page.context().close();
});

test('the queue configuration editor shows a server validation error at the field', async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/config/ops');
  const area = page.locator('#config');
  await page.waitForFunction(() => document.getElementById('config').value.includes('"overlap"'));
  const text = await area.inputValue();
  await area.fill(text.replace(/"overlap": 1/, '"overlap": 12'));
  await page.keyboard.press('Control+s');
  const err = page.locator('#cfgerr');
  await err.getByText('assignment.overlap').waitFor();
  // The bubble sits on the line of "overlap", which is marked in the gutter and selected.
  const line = (await area.inputValue()).split('\n').findIndex((l) => l.includes('"overlap": 12')) + 1;
  assert.equal(await page.locator('.gutter .err').innerText(), String(line));
  assert.match(await page.locator('.bubble').innerText(), /overlap/);
  const sel = await area.evaluate((n) => n.value.slice(n.selectionStart, n.selectionEnd));
  assert.equal(sel, '"overlap"');
  await shot(page, 'config-error');
  // A syntax error is caught before sending.
  await area.fill('{"schema": }');
  await page.getByRole('button', {name: /Save/}).click();
  await err.getByText('not valid JSON').waitFor();
  // A good change is saved.
  await area.fill(text.replace(/"overlap": 1/, '"overlap": 2'));
  await page.getByRole('button', {name: /Save/}).click();
  await page.getByText('Saved queue ops.').waitFor();
  assert.equal((await ok(ADMIN, 'GET', '/v1/queues/ops')).config.assignment.overlap, 2);
  await ok(ADMIN, 'PUT', '/v1/queues/ops', {...(await ok(ADMIN, 'GET', '/v1/queues/ops')).config,
                                            assignment: {overlap: 1, roles: ['validator']}});
  await page.context().close();
});

test('audit view: the event log filtered by task, queue, actor; a task history', async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/audit');
  await page.locator('#auditlog tbody tr').first().waitFor();
  // The log opens on its newest event and goes back in time; Load more continues below.
  const seqs = () => page.locator('#auditlog tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
  const latest = (await ok(ADMIN, 'GET', '/v1/events?order=newest&limit=1')).events[0].seq;
  let shown = await seqs();
  assert.equal(shown[0], latest);
  assert.ok(shown.every((v, i) => i === 0 || shown[i - 1] > v), 'newest first');
  if (shown.length === 100) {
    await page.getByRole('button', {name: 'Load more'}).click();
    await page.waitForFunction(() => document.querySelectorAll('#auditlog tbody tr').length > 100);
    shown = await seqs();
    assert.ok(shown.every((v, i) => i === 0 || shown[i - 1] > v), 'the next page continues below');
  }
  const t = await ok(T.bob, 'POST', '/v1/queues/ops/claim');
  await ok(T.bob, 'POST', `/v1/tasks/${t.id}/responses`, {lease_id: t.lease.id, kind: 'reject', comment: 'not ok'});
  await page.getByLabel('Task id').fill(t.id);
  await page.getByRole('button', {name: 'Filter'}).click();
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#auditlog tbody tr')];
    return rows.length >= 3 && rows.every((r) => r.textContent.includes(id));
  }, t.id);
  // Newest first: the decision on top, the submission at the bottom.
  const types = await page.locator('#auditlog tbody .etype').allTextContents();
  assert.deepEqual(types.slice(0, 2), ['task.decided', 'task.leased']);
  assert.equal(types.at(-1), 'task.submitted');
  await page.getByLabel('Task id').fill('');
  await page.getByLabel('Actor').fill('bob');
  await page.getByLabel('Event type').selectOption('task.decided');
  await page.getByRole('button', {name: 'Filter'}).click();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#auditlog tbody tr')];
    return rows.length > 0 && rows.every((r) => r.querySelector('.etype').textContent === 'task.decided' && r.children[5].textContent === 'bob');
  });
  await shot(page, 'audit');
  await page.locator('#auditlog a', {hasText: t.id}).first().click();
  await page.locator('#responses tbody tr').first().waitFor();
  assert.match(await page.locator('#responses').innerText(), /bob[\s\S]*reject[\s\S]*not ok/);
  assert.match(await page.locator('.kv').innerText(), /reject by human/);
  await page.locator('#taskevents tbody tr').nth(2).waitFor();
  await shot(page, 'audit-task', {fullPage: true});
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a reviewer's own history and counts", async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/history');
  await page.locator('#history tbody tr').first().waitFor();
  const text = await page.locator('#history').innerText();
  for (const k of ['approve', 'modify', 'rating', 'ranking', 'spans', 'label']) assert.match(text, new RegExp(k));
  const today = Number(await page.locator('.tile b').first().innerText());
  assert.ok(today >= 10, `alice answered at least 10 today, the page says ${today}`);
  await shot(page, 'history');
  await page.context().close();
});

test('the workspace on a 390 px phone: no sideways scrolling, Approve, Reject and Submit on screen', async () => {
  const page = await newPage(browser, {width: 390, height: 844});
  await signIn(page, T.alice, '#/review/support-replies');
  const id = await shownTask(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, 'no sideways scrolling');
  for (const sel of ['#submit', '#quick-approve', '#quick-reject']) {
    const box = await page.locator(sel).boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 844, `${sel} is on screen without scrolling`);
  }
  // Scrolled to the end, the last question clears the fixed bar: nothing is left under it.
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  const lastQ = await page.locator('.questions .q').last().boundingBox();
  const barBox = await page.locator('.actionbar').boundingBox();
  assert.ok(lastQ.y + lastQ.height <= barBox.y, `the last question ends at ${lastQ.y + lastQ.height}, the bar starts at ${barBox.y}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  // The answer bar's Reject answers the question (whose own buttons are further down the page).
  const own = page.locator('.q-approve button.reject');
  await page.click('#quick-reject');
  assert.equal(await own.getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#quick-reject').getAttribute('aria-pressed'), 'true');
  await shot(page, 'phone-workspace');
  await page.click('#submit');
  await nextTask(page, id);
  assert.equal((await decided(id)).decision.outcome, 'reject');
  // And the other way round: the question's Approve (key A) lights the bar's, once.
  await page.keyboard.press('a');
  assert.equal(await page.locator('#quick-approve').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#quick-reject').getAttribute('aria-pressed'), 'false');
  // On a wide screen the question is beside the task, and the bar has no copy of it.
  await page.setViewportSize({width: 1280, height: 800});
  assert.equal(await page.locator('#quick-approve').isVisible(), false);
  await page.context().close();
});

test("a queue's webhook deliveries are listed under its configuration, with the last error; Redeliver sends one again", async () => {
  // A receiver on 127.0.0.1 that takes every delivery, and a port that refuses connections.
  const got = [];
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { got.push(req.headers['webhook-id']); res.end('ok'); });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const port = receiver.address().port;
  try {
    const put = await ok(ADMIN, 'PUT', '/v1/queues/hooks', {policy: {rules: [{name: 'all', then: {action: 'accept'}}]},
      webhooks: [{url: 'http://127.0.0.1:1/hook', events: ['task.decided']},
                 {url: `http://127.0.0.1:${port}/hook`, events: ['task.decided']}]});
    assert.equal(put.webhook_secrets.length, 2);
    await ok(T.agent, 'POST', '/v1/queues/hooks/tasks', {input: {text: 'decided by the policy'}});
    const until = Date.now() + 10000;
    for (;;) {
      const {deliveries} = await ok(ADMIN, 'GET', '/v1/queues/hooks/webhook-deliveries');
      if (deliveries.length === 2 && deliveries.every((d) => d.attempts >= 1)) break;
      assert.ok(Date.now() < until, 'the first attempts were made');
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await newPage(browser);
    await signIn(page, ADMIN, '#/config/hooks');
    const rows = page.locator('#deliveries tbody tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    const pending = page.locator('#deliveries tr[data-state="pending"]');
    const delivered = page.locator('#deliveries tr[data-state="delivered"]');
    assert.match(await pending.innerText(), /task\.decided/);
    assert.match(await pending.locator('.lasterr').innerText(), /connect/i);
    assert.equal(await pending.locator('button').count(), 0);
    // Redeliver: the receiver gets the same webhook-id again.
    const id = await delivered.getAttribute('data-id');
    assert.deepEqual(got, [id]);
    await delivered.getByRole('button', {name: 'Redeliver'}).click();
    await page.getByText(`Delivery ${id} will be sent again.`).waitFor();
    const again = Date.now() + 10000;
    while (got.length < 2) {
      assert.ok(Date.now() < again, 'the redelivery arrived');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(got, [id, id]);
    await page.locator('#drefresh').click();
    await page.locator(`#deliveries tr[data-id="${id}"][data-state="delivered"]`).waitFor();
    // Filtering by state asks the server again.
    await page.selectOption('#dstate', 'failed');
    await page.locator('#dempty').waitFor();
    assert.equal(await page.locator('#deliveries').isVisible(), false);
    await page.selectOption('#dstate', 'pending');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    // A webhook added in the editor gets a secret, shown once under it.
    const area = page.locator('#config');
    const cfg = JSON.parse(await area.inputValue());
    assert.ok(cfg.webhooks.every((w) => /^whsec_\.\.\./.test(w.secret_hint) && !('secret' in w)));
    cfg.webhooks.push({url: 'http://127.0.0.1:1/other'});
    await area.fill(JSON.stringify(cfg, null, 2));
    await page.getByRole('button', {name: /Save/}).click();
    await page.getByText('Saved queue hooks.').waitFor();
    const shown = page.locator('.deliveries .secret');
    assert.equal(await shown.count(), 1);
    assert.match(await shown.locator('.whsec').innerText(), /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(await shown.innerText(), /127\.0\.0\.1:1\/other/);
    await page.locator('#deliveries tr[data-state="delivered"] button').waitFor();
    // The picture: the page from its top, without the toasts over the table.
    await page.evaluate(() => { window.scrollTo(0, 0); document.getElementById('toast').replaceChildren(); });
    await shot(page, 'webhook-deliveries', {fullPage: true});
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    await new Promise((r) => receiver.close(r));
  }
});

// The budget is on what every page loads: hitl's own files under web/. Chart.js (Debian's
// chart.min.js, 199,560 bytes) is fetched only when a page that draws a chart opens, so it is
// reported beside it, not counted in it; the total with it is reported too.
test('the UI\'s own files stay under 150 KB; Chart.js is loaded only by chart pages', async () => {
  const web = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../web');
  let own = 0;
  for (const f of fs.readdirSync(web, {recursive: true})) {
    const p = path.join(web, f);
    if (!fs.statSync(p).isFile()) continue;
    const rel = f === 'index.html' ? '/' : '/assets/' + f;
    const r = await fetch(BASE + rel);
    assert.equal(r.status, 200, rel);
    const served = (await r.arrayBuffer()).byteLength;
    assert.equal(served, fs.statSync(p).size, `${rel} is served as it is in web/`);
    own += served;
  }
  const chart = (await (await fetch(BASE + '/assets/vendor/chart.min.js')).arrayBuffer()).byteLength;
  const total = own + chart;
  report(`ui embedded size: ${total} bytes (web/ ${own} + chart.min.js ${chart}); target: web/ under 150000 bytes`);
  assert.ok(own < 150000, `web/ is ${own} bytes`);
  // Only the chart pages' loader names Chart.js: the workspace never downloads it.
  for (const f of fs.readdirSync(web)) {
    if (!/\.(js|html)$/.test(f)) continue;
    const names = fs.readFileSync(path.join(web, f), 'utf8').includes('chart.min.js');
    assert.equal(names, f === 'dashboard.js', `${f} names chart.min.js`);
  }
});
