// SPDX-License-Identifier: MIT
// Details a new reviewer or operator hits: the workspace's count of tasks answered today, digit
// keys going to the question in focus, the dashboard's latest events at load, and a history
// that names tasks by their text.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, ok, launch, newPage, signIn, shot, shownTask, nextTask} from './lib.mjs';

let browser, erin;
const Q = 'two-questions';
before(async () => {
  browser = await launch();
  erin = (await ok(ADMIN, 'POST', '/v1/tokens', {name: 'erin', roles: ['validator']})).token;
  await ok(ADMIN, 'PUT', `/v1/queues/${Q}`, {
    schema: {fields: [{name: 'headline', type: 'text'}],
             questions: [{name: 'topic', type: 'label', labels: ['sport', 'politics', 'science']},
                         {name: 'flags', type: 'labels', labels: ['clickbait', 'outdated', 'offensive']}]},
    assignment: {roles: ['validator']}});
  await ok(ADMIN, 'POST', `/v1/queues/${Q}/tasks/batch`, {tasks: [
    {input: {headline: 'Local team wins the cup after 40 years'}, priority: 3},
    {input: {headline: 'New telescope sees the oldest galaxy yet'}, priority: 2},
    {input: {headline: 'You will not believe what this senator said'}, priority: 1},
    // Spares: a page closed by one test gives its leases back in the background.
    ...Array.from({length: 6}, (_, i) => ({input: {headline: `Spare headline ${i + 1}`}}))]});
});
after(async () => { await browser?.close(); });

const counter = async (page) => Number((await page.locator('.counter').innerText()).match(/\d+/)?.[0]);

test('the workspace counts tasks answered today, at load and after each answer', async () => {
  // One task answered over the API: one body, two questions, so two stored answers.
  const t = await ok(erin, 'POST', `/v1/queues/${Q}/claim`);
  await ok(erin, 'POST', `/v1/tasks/${t.id}/responses`, {lease_id: t.lease.id, answers: [
    {question: 'topic', kind: 'label', value: 'sport'}, {question: 'flags', kind: 'labels', value: []}]});
  const page = await newPage(browser);
  await signIn(page, erin, '#/review/' + Q);
  const id = await shownTask(page);
  await page.locator('.counter', {hasText: /answered today/}).waitFor();
  assert.equal(await counter(page), 1, 'one task answered so far');
  assert.match(await page.locator('.counter').innerText(), /1 task answered today/);
  await page.keyboard.press('1');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  await page.waitForFunction(() => /2 tasks answered today/.test(document.querySelector('.counter').textContent));
  // Loaded again, the page says the same.
  await page.reload();
  await shownTask(page);
  await page.locator('.counter', {hasText: /answered today/}).waitFor();
  assert.equal(await counter(page), 2);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('digit keys go to the question in focus, not always the first', async () => {
  const page = await newPage(browser);
  await signIn(page, erin, '#/review/' + Q);
  await shownTask(page);
  const checked = (q) => page.locator(`.q[data-question="${q}"] input`).evaluateAll((xs) => xs.map((x) => x.checked));
  // At first the digits go to the first question that takes them.
  await page.keyboard.press('2');
  assert.deepEqual(await checked('topic'), [false, true, false]);
  // A click on the second question (its heading, not an option) gives it the digits.
  await page.locator('.q[data-question="flags"] .qhead').click();
  await page.keyboard.press('3');
  assert.deepEqual(await checked('flags'), [false, false, true]);
  assert.deepEqual(await checked('topic'), [false, true, false], 'the first question is unchanged');
  assert.equal(await page.locator('.q.active').getAttribute('data-question'), 'flags');
  await shot(page, 'workspace-two-questions');
  // Tab moves the focus back to an option of the first question: the digits follow.
  await page.locator('.q[data-question="topic"] input').first().focus();
  await page.keyboard.press('3');
  assert.deepEqual(await checked('topic'), [false, false, true]);
  assert.deepEqual(await checked('flags'), [false, false, true]);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("the dashboard's live events show the latest events at load", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/dashboard');
  await page.locator('.live.on').waitFor();
  // The box holds the latest 12 of the many events before the page loaded, newest on top.
  const items = page.locator('.ticker li');
  await page.waitForFunction(() => document.querySelectorAll('.ticker li').length === 12);
  const newest = (await ok(ADMIN, 'GET', '/v1/events?order=newest&limit=1')).events[0];
  await page.waitForFunction((type) => document.querySelector('.ticker li').textContent.includes(type),
                             newest.type, {timeout: 5000});
  // A new event goes on top, once.
  await ok(ADMIN, 'PUT', '/v1/queues/ticker-check', {});
  await page.locator('.ticker li', {hasText: 'ticker-check'}).first().waitFor();
  assert.match(await items.first().innerText(), /queue\.created ticker-check/);
  assert.equal(await page.locator('.ticker li', {hasText: 'ticker-check'}).count(), 1);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('My history names each task by its text, with the id below it', async () => {
  const page = await newPage(browser);
  await signIn(page, erin, '#/history');
  const first = page.locator('#history tbody tr').first();
  await first.locator('td.task span').waitFor();
  const cells = await page.locator('#history tbody td.task').allInnerTexts();
  assert.ok(cells.some((c) => /Local team wins the cup/.test(c)), 'the headline of the task erin answered');
  assert.ok(cells.every((c) => /t_[0-9a-z]+/.test(c)), 'each row still shows the task id');
  assert.equal(await page.locator('#history thead th').nth(1).innerText(), 'Task');
  await shot(page, 'history-tasks');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
