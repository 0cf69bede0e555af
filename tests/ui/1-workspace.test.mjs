// SPDX-License-Identifier: MIT
// The review workspace in a real browser: sign-in, claim, every question type, lost lease, speed.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, BASE, call, ok, tokens, launch, newPage, signIn, shot, shownTask, nextTask, decided, report, timeAnswers} from './lib.mjs';

let browser, T;
before(async () => { browser = await launch(); T = tokens(); });
after(async () => { await browser?.close(); });

// Waits until who holds n leases in queue (seen by the orchestrator).
async function leasedBy(queue, who, n) {
  const end = Date.now() + 8000;
  for (let mine = -1; ; await new Promise((r) => setTimeout(r, 50))) {
    const {tasks} = await ok(ADMIN, 'GET', `/v1/queues/${queue}/tasks?state=leased`);
    mine = tasks.filter((t) => t.lease && t.lease.owner === who).length;
    if (mine === n) return;
    assert.ok(Date.now() < end, `${who} should hold ${n} leases in ${queue}, holds ${mine}`);
  }
}

const lastResponse = (t, who) => t.responses.filter((r) => r.reviewer === who).at(-1);

test('sign in with a token: HttpOnly cookie, CSRF on writes, bad token refused, sign out', async () => {
  const page = await newPage(browser);
  await page.goto(BASE + '/');
  await shot(page, 'signin');
  await page.getByLabel('Access token').fill('hitl_not_a_real_token');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByText('This token is unknown or revoked').waitFor();
  await signIn(page, T.bob);
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === 'hitl_session');
  assert.ok(c, 'session cookie set');
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('hitl_session')), false);
  // The picker lists only the queues bob's role (validator) may review.
  const names = await page.locator('.queuelink .qn').allTextContents();
  assert.ok(names.includes('support-replies'));
  assert.ok(!names.includes('fragile'), 'fragile needs the corrector role');
  // A write with the cookie but without the CSRF header is refused; the app's own calls pass.
  const st = await page.evaluate(async () => (await fetch('/v1/queues/support-replies/claim', {method: 'POST'})).status);
  assert.equal(st, 403);
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByLabel('Access token').waitFor();
  const after = await page.evaluate(async () => (await fetch('/v1/session')).status);
  assert.equal(after, 401);
  assert.deepEqual(page.errors.filter((e) => !/status of 403/.test(e)), []);
  await page.context().close();
});

test('claim, approve with the keyboard (prefetched next task), modify with the editor', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review');
  await page.locator('.queuelink', {hasText: 'support-replies'}).waitFor();
  await page.keyboard.press(String(1 + (await page.locator('.queuelink .qn').allTextContents()).indexOf('support-replies')));
  const first = await shownTask(page);
  // The highest priority task comes first; the next one is claimed ahead (prefetch).
  await leasedBy('support-replies', 'alice', 2);
  assert.match(await page.locator('.taskview').innerText(), /arrived broken/);
  assert.match(await page.locator('.route').innerText(), /low-confidence/);
  await shot(page, 'workspace-approve');

  // Approve with A then Enter; measure the time until the next task is interactive.
  await timeAnswers(page);
  await page.keyboard.press('a');
  assert.equal(await page.locator('.q-approve button.choice.approve').getAttribute('aria-pressed'), 'true');
  const boxes = async () => [await page.locator('#submit').boundingBox(), await page.locator('.side').boundingBox()];
  const before = await boxes();
  await page.keyboard.press('Enter');
  let id = await nextTask(page, first);
  assert.deepEqual(await boxes(), before, 'no layout jump: the answer panel and Submit stay in place');
  const t1 = await decided(first);
  assert.equal(t1.decision.outcome, 'approve');
  assert.deepEqual(t1.decision.reviewers, ['alice']);
  assert.ok(lastResponse(t1, 'alice').time_spent_ms >= 0);

  // More approvals, all timed.
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('a');
    await page.keyboard.press('Enter');
    id = await nextTask(page, id);
  }
  const times = await page.evaluate(() => window.hitlT);
  assert.equal(times.length, 6);
  const sorted = [...times].sort((a, b) => a - b);
  report(`ui answer->next task interactive (prefetched, ${times.length} answers): median ${sorted[sorted.length >> 1].toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`);
  // The answer itself is saved in the background; how long the server took to acknowledge it:
  const acks = (await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => e.name.endsWith('/responses')).map((e) => e.duration))).sort((a, b) => a - b);
  report(`ui answer saved (POST /responses round trip, ${acks.length} answers): median ${acks[acks.length >> 1].toFixed(1)} ms, max ${acks.at(-1).toFixed(1)} ms`);
  assert.ok(sorted[sorted.length >> 1] < 50, 'the next task is interactive in under 50 ms');

  // Modify: E opens the editor prefilled with the suggestion, with a live diff.
  const sugg = (await ok(ADMIN, 'GET', `/v1/tasks/${id}`)).output;
  await page.keyboard.press('e');
  const editor = page.getByLabel('Corrected output for verdict');
  await editor.waitFor();
  assert.equal(await editor.inputValue(), sugg);
  assert.ok(await editor.evaluate((n) => n === document.activeElement), 'the editor has the focus');
  await editor.press('End');
  await editor.pressSequentially(' Kind regards, Alice');
  await page.locator('.livediff ins', {hasText: 'Alice'}).waitFor();
  await page.keyboard.press('Escape');
  await page.keyboard.press('c');
  await page.keyboard.type('signed the reply');
  await shot(page, 'workspace-modify');
  await page.keyboard.press('Control+Enter');
  await nextTask(page, id);
  const t2 = await decided(id);
  assert.equal(t2.decision.outcome, 'modify');
  assert.equal(t2.decision.answers.verdict.value, sugg + ' Kind regards, Alice');
  assert.equal(lastResponse(t2, 'alice').comment, 'signed the reply');
  // The header counts today's answers.
  await page.locator('.counter', {hasText: /answered today/}).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('single label and multi-label with 1-9, J/K to move between questions', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/invoice-triage');
  const id = await shownTask(page);
  await page.locator('.imgbox img').waitFor();
  assert.equal(await page.locator('.md h4').innerText(), 'Invoice 4712');
  await page.keyboard.press('3');               // category: refund
  await page.keyboard.press('1');               // category: billing (replaces)
  await page.keyboard.press('j');               // to "flags"
  await page.keyboard.press('1');               // urgent
  await page.keyboard.press('3');               // fraud-risk
  await page.keyboard.press('3');               // fraud-risk off
  await page.keyboard.press('2');               // vip
  assert.equal(await page.getByRole('radio', {name: 'billing'}).isChecked(), true);
  await shot(page, 'workspace-label');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  const t = await decided(id);
  assert.deepEqual(t.decision.answers.category, {kind: 'label', value: 'billing'});
  assert.deepEqual(t.decision.answers.flags, {kind: 'labels', value: ['urgent', 'vip']});
  await page.context().close();
});

test('rating with stars', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/answer-quality');
  const id = await shownTask(page);
  await page.keyboard.press('4');
  assert.equal(await page.locator('.star.on').count(), 4);
  await shot(page, 'workspace-rating');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  assert.deepEqual((await decided(id)).decision.answers.quality, {kind: 'rating', value: 4});
  // A click works as well as a key.
  const id2 = await shownTask(page);
  await page.locator('.star').nth(1).click();
  await page.getByRole('button', {name: /Submit/}).click();
  await nextTask(page, id2);
  assert.deepEqual((await decided(id2)).decision.answers.quality, {kind: 'rating', value: 2});
  // S skips the last one (sent when its few seconds of Undo are over): it goes back to pending,
  // and alice is not offered it again.
  const id3 = await shownTask(page);
  await page.keyboard.press('s');
  await page.getByText('Nothing to review right now').waitFor();
  let t3;
  for (const end = Date.now() + 10000; (t3 = await ok(ADMIN, 'GET', `/v1/tasks/${id3}`)).state !== 'pending';) {
    assert.ok(Date.now() < end, 'the skip is sent after its Undo window');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(t3.responses.map((r) => [r.reviewer, r.kind]), [['alice', 'skip']]);
  await page.context().close();
});

test('pairwise preference: outputs side by side, pick the better one', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/model-arena');
  const id = await shownTask(page);
  const cards = page.locator('.cand');
  assert.equal(await cards.count(), 2);
  const boxes = [await cards.nth(0).boundingBox(), await cards.nth(1).boundingBox()];
  assert.ok(Math.abs(boxes[0].y - boxes[1].y) < 2 && boxes[1].x > boxes[0].x + boxes[0].width - 1, 'side by side');
  await page.keyboard.press('2');
  await page.keyboard.press('1');
  assert.equal(await cards.nth(0).getAttribute('aria-pressed'), 'true');
  await shot(page, 'workspace-preference');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  assert.deepEqual((await decided(id)).decision.answers.better, {kind: 'ranking', value: ['model-a', 'model-b']});
  await page.context().close();
});

test('text spans: select with Shift+arrows and with the mouse, label with a number', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/ner');
  const id = await shownTask(page);
  const box = page.locator('.spantext');
  // Mouse first, while the text is one piece that starts with a character outside the BMP:
  // select "Acme Corp" with a real drag (offsets must count code points, not UTF-16 units).
  const r = await page.evaluate(() => {
    const n = [...document.querySelectorAll('.spantext [data-s]')].find((x) => x.textContent.includes('Acme Corp'));
    const t = n.firstChild, i = t.textContent.indexOf('Acme Corp');
    const range = document.createRange();
    range.setStart(t, i); range.setEnd(t, i + 1);
    const a = range.getBoundingClientRect();
    range.setStart(t, i + 8); range.setEnd(t, i + 9);
    const b = range.getBoundingClientRect();
    return {x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2};
  });
  await page.mouse.move(r.x1, r.y1);
  await page.mouse.down();
  await page.mouse.move(r.x2, r.y2, {steps: 4});
  await page.mouse.up();
  await page.keyboard.press('2');
  // Keyboard: "Maria Schmidt" starts after "𝐍𝐞𝐰𝐬: " (6 code points, 10 UTF-16 units), 13 long.
  await box.focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
  for (let i = 0; i < 13; i++) await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('1');
  await page.locator('.spanlist li', {hasText: 'ORG: “Acme Corp”'}).waitFor();
  await shot(page, 'workspace-spans');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  const t = await decided(id);
  assert.deepEqual(t.decision.answers.entities, {kind: 'spans', value: [
    {start: 6, end: 19, label: 'PER'}, {start: 27, end: 36, label: 'ORG'}]});
  await page.context().close();
});

test('fields by type: diff of input and suggestion, markdown, several questions with free text', async () => {
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/rewrites');
  const id = await shownTask(page);
  assert.ok(await page.locator('.diff del').count() > 0);
  assert.ok(await page.locator('.diff ins').count() > 0);
  assert.equal(await page.locator('.md strong').innerText(), 'formal');
  await page.keyboard.press('a');
  await page.keyboard.press('1');                       // tone: formal
  const fixed = page.getByLabel('Answer to fixed');
  await fixed.fill('Hello, your refund is on its way.');
  await page.keyboard.press('Escape');
  await shot(page, 'workspace-diff');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  const t = await decided(id);
  assert.deepEqual(t.decision.answers.fixed, {kind: 'text', value: 'Hello, your refund is on its way.'});
  assert.deepEqual(t.decision.answers.tone, {kind: 'label', value: 'formal'});
  assert.equal(t.decision.outcome, 'approve');
  await page.context().close();
});

test('a lost lease is shown plainly and the typed answer is kept', async () => {
  const page = await newPage(browser);
  await signIn(page, T.carol, '#/review/fragile');
  const id = await shownTask(page);
  // The lease (6 s) is renewed while carol works.
  const renewed = await page.waitForResponse((r) => r.url().endsWith(`/v1/tasks/${id}/lease`), {timeout: 6000});
  assert.equal(renewed.status(), 200);
  await page.keyboard.press('e');
  const editor = page.getByLabel('Corrected output for verdict');
  await editor.fill('My careful correction that must not be lost');
  // The task is cancelled behind carol's back: the lease can no longer answer.
  await ok(T.agent, 'POST', `/v1/tasks/${id}/cancel`);
  await page.keyboard.press('Control+Enter');
  const banner = page.locator('#banner');
  await banner.getByText('Your lease on this task was lost').waitFor();
  assert.equal(await page.locator('main').getAttribute('data-task-id'), id);
  assert.equal(await editor.inputValue(), 'My careful correction that must not be lost');
  const kept = await page.evaluate((k) => sessionStorage.getItem(k), 'hitl.answer.' + id);
  assert.match(kept, /My careful correction/);
  await shot(page, 'lost-lease');
  // N moves on to the next task.
  await page.keyboard.press('n');
  const id2 = await nextTask(page, id);
  // A lease lost while waiting (the renewal answers 409) shows the same banner.
  await ok(T.agent, 'POST', `/v1/tasks/${id2}/cancel`);
  await banner.getByText('Your lease on this task was lost').waitFor({timeout: 8000});
  await page.context().close();
});

test('leaving the workspace gives both leases (current and prefetched) back', async () => {
  const page = await newPage(browser);
  await signIn(page, T.bob, '#/review/ops');
  await shownTask(page);
  await leasedBy('ops', 'bob', 2);
  await page.getByRole('link', {name: 'History', exact: true}).click();
  await leasedBy('ops', 'bob', 0);
  // The keyboard way out: Q goes back to the queues and gives the leases back too.
  await page.getByRole('link', {name: 'Review'}).click();
  await page.locator('.queuelink', {hasText: 'ops'}).click();
  await shownTask(page);
  await leasedBy('ops', 'bob', 2);
  await page.keyboard.press('q');
  await page.locator('.queuelink', {hasText: 'ops'}).waitFor();
  await leasedBy('ops', 'bob', 0);
  // The same when the tab goes away (pagehide: keepalive requests that outlive the page).
  await page.getByRole('link', {name: 'Review'}).click();
  await page.locator('.queuelink', {hasText: 'ops'}).click();
  await shownTask(page);
  await leasedBy('ops', 'bob', 2);
  await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false})));
  await leasedBy('ops', 'bob', 0);
  await page.context().close();
});
