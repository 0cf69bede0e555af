// SPDX-License-Identifier: MIT
// The Runs page in a real browser: agent runs live, the approvals they wait on, and the
// orchestrator's commands reaching the agent (which reads and acknowledges them over the API).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, ok, tokens, launch, newPage, signIn, shot} from './lib.mjs';

let browser, T;
before(async () => { browser = await launch(); T = tokens(); });
after(async () => { await browser?.close(); });

const rowOf = (page, id) => page.locator(`#runs tr[data-id="${id}"]`);

test('runs show live; pause, goal and stop reach the agent; waiting runs link to the workspace', async () => {
  // Two agent runs: one at work, one waiting on people for a task of its own.
  const work = await ok(T.agent, 'POST', '/v1/runs', {agent: 'researcher', goal: 'Find three sources on solar storage',
                                                      metadata: {model: 'm-1'}, heartbeat_seconds: 300});
  await ok(T.agent, 'POST', `/v1/runs/${work.id}/steps`, {text: 'Searched the web: 12 hits', data: {hits: 12}});
  const buyer = await ok(T.agent, 'POST', '/v1/runs', {agent: 'buyer', goal: 'Order laptops for the new team',
                                                       heartbeat_seconds: 300});
  const task = await ok(T.agent, 'POST', '/v1/queues/ops/tasks', {input: {text: 'Order 3 laptops, 4,200 EUR'}, run_id: buyer.id});

  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/runs');
  await rowOf(page, work.id).waitFor();
  assert.equal(await rowOf(page, work.id).getAttribute('data-state'), 'running');
  assert.match(await rowOf(page, work.id).innerText(), /Searched the web: 12 hits/);
  // The buyer waits on people: its task links into the workspace of its queue.
  await page.waitForFunction((id) => document.querySelector(`#runs tr[data-id="${id}"]`)?.dataset.state === 'waiting', buyer.id);
  const link = rowOf(page, buyer.id).locator('a.tasklink');
  assert.equal(await link.getAttribute('href'), '#/review/ops');
  assert.match(await rowOf(page, buyer.id).innerText(), new RegExp(task.id));

  // Pause from the page: the agent's long-poll gets it; the page shows it until acknowledged.
  const poll = ok(T.agent, 'GET', `/v1/runs/${work.id}/commands?after=0&wait=20`);
  await rowOf(page, work.id).locator('button[data-cmd="pause"]').click();
  await page.waitForFunction((id) => document.querySelector(`#runs tr[data-id="${id}"]`)?.dataset.state === 'paused', work.id);
  const {commands} = await poll;
  assert.equal(commands[0].type, 'pause');
  await rowOf(page, work.id).getByText('1 not acknowledged').waitFor();
  await ok(T.agent, 'POST', `/v1/runs/${work.id}/commands/1/ack`);
  await page.waitForFunction((id) => !/not acknowledged/.test(document.querySelector(`#runs tr[data-id="${id}"]`).innerText), work.id);
  assert.equal(await rowOf(page, work.id).locator('button[data-cmd="pause"]').isDisabled(), true);

  // A new goal, typed into the row.
  await rowOf(page, work.id).getByLabel('New goal for researcher').fill('Find five sources, peer-reviewed only');
  await rowOf(page, work.id).locator('button[data-cmd="goal"]').click();
  await rowOf(page, work.id).locator('td.goal', {hasText: 'peer-reviewed only'}).waitFor();
  const after = await ok(T.agent, 'GET', `/v1/runs/${work.id}/commands?after=1`);
  assert.equal(after.commands[0].goal, 'Find five sources, peer-reviewed only');
  await shot(page, 'runs', {fullPage: true});

  // Stop: final, every control of the row is off.
  await rowOf(page, buyer.id).locator('button[data-cmd="stop"]').click();
  await page.waitForFunction((id) => document.querySelector(`#runs tr[data-id="${id}"]`)?.dataset.state === 'stopped', buyer.id);
  assert.equal(await rowOf(page, buyer.id).locator('button[data-cmd="stop"]').isDisabled(), true);
  assert.equal((await ok(T.agent, 'POST', `/v1/runs/${work.id}/heartbeat`)).state, 'paused');
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // A reviewer sees the runs but has no commands.
  const rev = await newPage(browser);
  await signIn(rev, T.alice, '#/runs');
  await rowOf(rev, work.id).waitFor();
  assert.equal(await rev.locator('#runs button[data-cmd]').count(), 0);
  assert.deepEqual(rev.errors, []);
  await rev.context().close();
});
