// SPDX-License-Identifier: MIT
// The Calibration page: a queue routed by a calibrated leaf, certified, withdrawn by drift and
// certified again, drawn with its threshold, curves and withdrawal history.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, ok, launch, newPage, signIn, shot, shownTask} from './lib.mjs';

let browser;
const Q = 'calibrated';

// Submits n tasks (scores from score(i)) and answers every task that goes to people: wrong(score)
// says whether the reviewer rejects the model's output.
async function round(n, score, wrong) {
  await ok(ADMIN, 'POST', `/v1/queues/${Q}/tasks/batch`, {tasks: Array.from({length: n}, (_, i) =>
    ({input: {text: `item ${i}`}, output: {label: 'ok'}, confidence: score(i)}))});
  for (;;) {
    const t = await ok(ADMIN, 'POST', `/v1/queues/${Q}/claim`);
    if (!t) return;
    await ok(ADMIN, 'POST', `/v1/tasks/${t.id}/responses`,
             {lease_id: t.lease.id, kind: wrong(t.confidence) ? 'reject' : 'approve'});
  }
}

let k = 0;
const spread = (i) => 0.5 + ((i * 37) % 100) / 200; // 0.5 .. 0.995
const lowWrong = (s) => s < 0.6 && k++ % 3 === 0;   // errors only among low scores
const calib = () => ok(ADMIN, 'GET', `/v1/queues/${Q}/calibration`);

before(async () => {
  browser = await launch();
  await ok(ADMIN, 'PUT', `/v1/queues/${Q}`, {
    schema: {fields: [{name: 'text', type: 'text'}], questions: [{name: 'verdict', type: 'approve'}]},
    policy: {rules: [{name: 'auto', when: {calibrated: {max_error: 0.1, confidence: 0.9, audit_percent: 20}},
                      then: {action: 'accept'}}]}});
  await round(400, spread, () => false);
  assert.ok((await calib()).certified, 'certified after the first round');
  // Drift: the reviewer rejects every audit until the threshold is withdrawn.
  for (let i = 0; i < 40 && !(await calib()).withdrawals.length; i++) await round(20, spread, () => true);
  assert.equal((await calib()).withdrawals.length, 1, 'withdrawn by the drift test');
  await round(400, spread, lowWrong);
  assert.ok((await calib()).certified, 'certified again');
});
after(async () => { await browser?.close(); });

test('the Calibration page shows the threshold, both curves and the withdrawal history', async () => {
  const v = await calib();
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/calibration/' + Q);
  await page.locator('#c-threshold').waitFor();
  assert.equal(await page.locator('#c-threshold b').innerText(), String(+v.threshold.toFixed(4)));
  assert.match(await page.locator('#calreason').innerText(), /are accepted/);
  assert.equal(await page.locator('#withdrawals tbody tr').count(), 1);
  // Both charts drew (Chart.js sized their canvases).
  for (const id of ['riskcov', 'reliab'])
    assert.ok(await page.locator('#' + id).evaluate((c) => c.width > 100 && c.height > 100), id);
  await page.waitForTimeout(0);
  await shot(page, 'calibration', {fullPage: true});
  // The header links to the page; without a queue it lists them.
  await page.getByRole('link', {name: 'Calibration'}).click();
  await page.locator('#calqueues a', {hasText: Q}).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the workspace shows a task\'s prediction set first and pre-selects its one label', async () => {
  const S = 'sets';
  await ok(ADMIN, 'PUT', `/v1/queues/${S}`, {
    schema: {fields: [{name: 'text', type: 'text'}], questions: [{name: 'kind', type: 'label', labels: ['a', 'b', 'c']}]},
    calibration: {conformal: {coverage: 0.9, score: 'lac'}}});
  const task = (i) => ({input: {text: `thing ${i}`}, probabilities: {a: 0.7, b: 0.2, c: 0.1}});
  await ok(ADMIN, 'POST', `/v1/queues/${S}/tasks/batch`, {tasks: Array.from({length: 9}, (_, i) => task(i))});
  for (let i = 0; i < 9; i++) {
    const t = await ok(ADMIN, 'POST', `/v1/queues/${S}/claim`);
    await ok(ADMIN, 'POST', `/v1/tasks/${t.id}/responses`, {lease_id: t.lease.id, kind: 'label', value: 'a'});
  }
  const t = await ok(ADMIN, 'POST', `/v1/queues/${S}/tasks`, task(9));
  assert.deepEqual(t.prediction_set.labels, ['a']);
  const page = await newPage(browser);
  await signIn(page, ADMIN, '#/review/' + S);
  assert.equal(await shownTask(page), t.id);
  assert.match(await page.locator('#pset').innerText(), /Prediction set\s+a/);
  assert.deepEqual(await page.locator('.q[data-question="kind"] input').evaluateAll((xs) => xs.map((x) => x.checked)),
                   [true, false, false]);
  await page.keyboard.press('Enter'); // the pre-selected label is the answer
  const done = await ok(ADMIN, 'GET', `/v1/tasks/${t.id}?wait=10`); // long-poll until decided
  assert.equal(done.decision.answers.kind.value, 'a');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
