// SPDX-License-Identifier: MIT
// The refund graph against a real hitl server (started by run-test.sh: HITL_URL and
// HITL_ADMIN_TOKEN), with the test as the reviewer over the API: approve, edit, reject, a
// deadline that passes (fail closed), and main.mjs run as a reader would run it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildGraph, runWithHitl } from './graph.mjs';
import { HitlClient, HitlError, decisionOf } from './hitl.mjs';

const url = process.env.HITL_URL;
const admin = new HitlClient(url, process.env.HITL_ADMIN_TOKEN);
let agent;
let reviewer;
let agentToken;
let serial = 0;

before(async () => {
  const suffix = `${process.pid}`;
  agentToken = (await admin.request('POST', '/v1/tokens', { name: `lg-agent-${suffix}`, roles: ['agent'] })).token;
  agent = new HitlClient(url, agentToken);
  reviewer = new HitlClient(url, (await admin.request('POST', '/v1/tokens', { name: `lg-alice-${suffix}`, roles: ['validator'] })).token);
});

/** A queue of the test's own. */
async function newQueue() {
  const name = `refunds-${process.pid}-${++serial}`;
  await admin.request('PUT', `/v1/queues/${name}`, {});
  return name;
}

/** Runs the graph on one order; resolves to {submitted, done}: the first task, the final state. */
function start(queue, order, options = {}) {
  let submitted;
  const first = new Promise((resolve) => { submitted = resolve; });
  const done = runWithHitl(buildGraph(), { order }, {
    client: agent, queue, threadId: `thread-${queue}`, onSubmit: submitted, ...options,
  });
  return { submitted: first, done };
}

/** The reviewer claims the queue's one task, checks it is the graph's, and answers it. */
async function review(queue, submitted, answer) {
  const task = await submitted;
  const claimed = await reviewer.claim(queue);
  assert.ok(claimed, 'nothing to claim');
  assert.equal(claimed.id, task.id);
  await reviewer.respond(claimed, answer);
  return task;
}

const order = { id: 'A-1001', amount: 120, reason: 'arrived damaged' };
const proposed = { order_id: 'A-1001', amount: 120, reason: 'arrived damaged' };

test('approve: the tool runs with the proposed arguments', async () => {
  const queue = await newQueue();
  const run = start(queue, order);
  const task = await review(queue, run.submitted, { kind: 'approve' });
  assert.deepEqual(task.input, { tool: 'refund', args: proposed });
  assert.deepEqual(task.output, proposed);
  const state = await run.done;
  assert.deepEqual(state.decision, { action: 'approve' });
  assert.deepEqual(state.executed, { tool: 'refund', args: proposed });
  assert.equal(state.result, 'refunded 120 EUR on A-1001');
});

test('edit: the tool runs with the arguments the reviewer gave', async () => {
  const queue = await newQueue();
  const run = start(queue, order);
  await review(queue, run.submitted, { kind: 'modify', value: { amount: 60 }, comment: 'half now' });
  const state = await run.done;
  assert.deepEqual(state.decision, { action: 'edit', args: { amount: 60 } });
  assert.deepEqual(state.executed, { tool: 'refund', args: { ...proposed, amount: 60 } });
  assert.equal(state.result, 'refunded 60 EUR on A-1001');
});

test('reject: the tool does not run and the message reaches the graph', async () => {
  const queue = await newQueue();
  const run = start(queue, order);
  await review(queue, run.submitted, { kind: 'reject', comment: 'needs a manager' });
  const state = await run.done;
  assert.deepEqual(state.decision, { action: 'reject', message: 'needs a manager' });
  assert.equal(state.executed, null);
  assert.equal(state.result, 'not done: needs a manager');
});

test('no decision in time: the task is cancelled and the graph goes on as rejected', async () => {
  const queue = await newQueue();
  const run = start(queue, order, { timeoutSeconds: 1 });
  const task = await run.submitted;
  const state = await run.done;
  assert.equal(state.executed, null);
  assert.equal(state.result, 'not done: cancelled');
  const final = await agent.getTask(task.id);
  assert.equal(final.state, 'cancelled');
  assert.equal(decisionOf(final).outcome, 'cancelled');
});

test('a deadline that passes rejects: the tool does not run', async () => {
  const queue = await newQueue();
  const run = start(queue, order, { task: { deadline_seconds: 1 }, timeoutSeconds: 60 });
  const task = await run.submitted;
  assert.ok(task.deadline_at);
  const state = await run.done;
  assert.deepEqual(state.decision, { action: 'reject', message: 'reject by sla' });
  assert.equal(state.executed, null);
});

test('main.mjs runs the example end to end', async () => {
  const queue = await newQueue();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./main.mjs', import.meta.url)), queue, 'B-7', '30'], {
    env: { ...process.env, HITL_URL: url, HITL_TOKEN: agentToken, HITL_TIMEOUT_SECONDS: '60' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => { out += b; });
  const waiting = new Promise((resolve) => {
    child.stderr.on('data', (b) => { err += b; if (err.includes('waiting for a person')) resolve(); });
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await Promise.race([waiting, exited]);
  const claimed = await reviewer.claim(queue);
  assert.ok(claimed, `main.mjs submitted nothing: ${err}`);
  await reviewer.respond(claimed, { kind: 'approve' });
  assert.equal(await exited, 0, err);
  const state = JSON.parse(out);
  assert.equal(state.result, 'refunded 30 EUR on B-7');
});

test('a server error surfaces as HitlError with its code and field', async () => {
  await assert.rejects(agent.submit(`nope-${process.pid}`, { input: {} }),
    (e) => e instanceof HitlError && e.status === 404 && e.code === 'not_found' && e.field === 'queue');
  const queue = await newQueue();
  await assert.rejects(agent.submit(queue, { input: {}, confidence: 2 }),
    (e) => e.status === 400 && e.code === 'validation_failed' && e.field === 'confidence');
  assert.equal(await reviewer.claim(queue), null);
});
