// SPDX-License-Identifier: MIT
// hitl's MCP server through the official TypeScript SDK client, unmodified: the handshake and
// version, the tools with their schemas (the SDK checks structured content against them), waits
// that people end, the MCP Tasks flow, errors, and examples/mcp/review.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';

const url = process.env.HITL_URL;
const admin = process.env.HITL_ADMIN_TOKEN;
let agentToken, reviewerToken, client;

async function rest(method, path, token, body) {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function token(name, roles) {
  const r = await rest('POST', '/v1/tokens', admin, { name, roles });
  assert.equal(r.status, 201);
  return r.json.token;
}

async function connect(bearer) {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
  });
  const c = new Client({ name: 'hitl-sdk-test', version: '1.0.0' });
  await c.connect(transport);
  return { client: c, transport };
}

// Waits (bounded) for a pending task in queue, claims it as the reviewer and answers it.
async function decideNext(queue, answer) {
  for (let i = 0; i < 500; i++) {
    const claim = await rest('POST', `/v1/queues/${queue}/claim`, reviewerToken);
    if (claim.status === 200) {
      const r = await rest('POST', `/v1/tasks/${claim.json.id}/responses`, reviewerToken, {
        lease_id: claim.json.lease.id,
        ...answer,
      });
      assert.equal(r.status, 200);
      return claim.json.id;
    }
    assert.equal(claim.status, 204);
    await new Promise((resolve) => setTimeout(resolve, 10)); // A bounded poll for the task.
  }
  throw new Error(`no task to claim in ${queue}`);
}

const reviewQueue = {
  schema: { fields: [{ name: 'text', type: 'text' }], questions: [{ name: 'verdict', type: 'approve' }] },
  policy: {
    rules: [
      { name: 'low', when: { confidence_below: 0.8 }, then: { action: 'review' } },
      { name: 'default', then: { action: 'accept' } },
    ],
  },
  assignment: { overlap: 1, roles: ['validator'], lease_seconds: 60 },
};
const askQueue = {
  schema: { fields: [{ name: 'question', type: 'text' }], questions: [{ name: 'reply', type: 'text' }] },
  policy: { rules: [{ name: 'ask', then: { action: 'review' } }] },
  assignment: { overlap: 1, roles: ['validator'], lease_seconds: 60 },
};

before(async () => {
  agentToken = await token('sdk-agent', ['agent']);
  reviewerToken = await token('sdk-reviewer', ['validator']);
  assert.equal((await rest('PUT', '/v1/queues/review', admin, reviewQueue)).status, 201);
  assert.equal((await rest('PUT', '/v1/queues/ask_human', admin, askQueue)).status, 201);
  ({ client } = await connect(agentToken));
  // The SDK checks structured content against the output schemas, and runs task-capable tools
  // as tasks, only for tools it has listed.
  await client.listTools();
});

after(async () => {
  await client?.close();
});

test('the SDK negotiates its newest protocol version and lists the tools', async () => {
  const { client: c, transport } = await connect(agentToken);
  assert.equal(transport.protocolVersion, LATEST_PROTOCOL_VERSION);
  assert.equal(c.getServerVersion().name, 'hitl');
  assert.ok(c.getServerCapabilities().tools);
  assert.ok(c.getServerCapabilities().tasks.requests.tools.call);
  const { tools } = await c.listTools();
  assert.deepEqual(tools.map((t) => t.name), ['request_review', 'get_decision', 'ask_human', 'run_status']);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object');
    assert.equal(t.outputSchema.type, 'object');
  }
  assert.deepEqual(tools[0].inputSchema.required, ['queue', 'input']);
  assert.equal(tools[0].execution.taskSupport, 'optional');
  await c.close();
});

test('request_review decided by the policy', async () => {
  const r = await client.callTool({
    name: 'request_review',
    arguments: { queue: 'review', input: { text: 'fine' }, output: 'ok', confidence: 0.97 },
  });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.state, 'decided');
  assert.equal(r.structuredContent.decision.by, 'policy');
  assert.equal(r.structuredContent.route.rule, 'default');
  assert.match(r.content[0].text, /decided/);
});

test('request_review and get_decision wait for people', async () => {
  const call = client.callTool({
    name: 'request_review',
    arguments: { queue: 'review', input: { text: 'doubtful' }, confidence: 0.2, wait_seconds: 60 },
  });
  const id = await decideNext('review', { kind: 'reject', comment: 'wrong' });
  const r = await call;
  assert.equal(r.structuredContent.task_id, id);
  assert.equal(r.structuredContent.state, 'decided');
  assert.equal(r.structuredContent.decision.outcome, 'reject');

  const pending = await client.callTool({
    name: 'request_review',
    arguments: { queue: 'review', input: { text: 'later' }, confidence: 0.2 },
  });
  assert.equal(pending.structuredContent.state, 'pending');
  const waited = client.callTool({
    name: 'get_decision',
    arguments: { task_id: pending.structuredContent.task_id, wait_seconds: 60 },
  });
  await decideNext('review', { kind: 'approve' });
  const d = await waited;
  assert.equal(d.structuredContent.state, 'decided');
  assert.equal(d.structuredContent.decision.outcome, 'approve');
});

test('ask_human returns the answer', async () => {
  const call = client.callTool({
    name: 'ask_human',
    arguments: { question: 'Which branch should I deploy?', wait_seconds: 60 },
  });
  await decideNext('ask_human', { kind: 'text', value: 'release-2' });
  const r = await call;
  assert.equal(r.structuredContent.answer, 'release-2');
  assert.match(r.content[0].text, /release-2/);
});

test('request_review and ask_human run as MCP tasks', async () => {
  const stream = client.experimental.tasks.callToolStream({
    name: 'request_review',
    arguments: { queue: 'review', input: { text: 'as a task' }, confidence: 0.1 },
  });
  const seen = [];
  let result;
  for await (const message of stream) {
    seen.push(message.type);
    if (message.type === 'taskCreated') {
      assert.equal(message.task.status, 'working');
      await decideNext('review', { kind: 'approve' });
    }
    if (message.type === 'result') result = message.result;
    if (message.type === 'error') throw message.error;
  }
  assert.equal(seen[0], 'taskCreated');
  assert.ok(seen.includes('taskStatus'));
  assert.equal(result.structuredContent.state, 'decided');
  assert.equal(result.structuredContent.decision.outcome, 'approve');

  const ask = client.experimental.tasks.callToolStream({
    name: 'ask_human',
    arguments: { question: 'Proceed?' },
  });
  let answer;
  for await (const message of ask) {
    if (message.type === 'taskCreated') await decideNext('ask_human', { kind: 'text', value: 'yes' });
    if (message.type === 'result') answer = message.result.structuredContent.answer;
    if (message.type === 'error') throw message.error;
  }
  assert.equal(answer, 'yes');
});

test('run_status reads the run and the commands to acknowledge', async () => {
  const run = await rest('POST', '/v1/runs', agentToken, { agent: 'sdk-planner', heartbeat_seconds: 600 });
  assert.equal(run.status, 201);
  assert.equal((await rest('POST', `/v1/runs/${run.json.id}/commands`, admin, { type: 'goal', goal: 'ship it' })).status, 201);
  const r = await client.callTool({ name: 'run_status', arguments: { run_id: run.json.id } });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.run.id, run.json.id);
  assert.equal(r.structuredContent.pending_commands[0].type, 'goal');
  assert.equal(r.structuredContent.pending_commands[0].goal, 'ship it');
});

test('bad calls get JSON-RPC errors or tool errors, and store nothing', async () => {
  const before = (await rest('GET', '/v1/queues/review/tasks?limit=1000', admin)).json.tasks.length;
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
    assert.ok(e instanceof McpError);
    assert.equal(e.code, -32602);
    assert.match(e.message, /unknown tool/);
    return true;
  });
  await assert.rejects(
    client.callTool({ name: 'request_review', arguments: { queue: 'review', input: 1, confidence: 'high' } }),
    (e) => e.code === -32602 && /confidence/.test(e.message),
  );
  await assert.rejects(
    client.callTool({ name: 'get_decision', arguments: { task_id: 'x', wait_seconds: 9999 } }),
    (e) => e.code === -32602 && /wait_seconds/.test(e.message),
  );
  const missing = await client.callTool({ name: 'request_review', arguments: { queue: 'nosuch', input: 1 } });
  assert.equal(missing.isError, true);
  assert.match(missing.content[0].text, /no queue/);
  const after = (await rest('GET', '/v1/queues/review/tasks?limit=1000', admin)).json.tasks.length;
  assert.equal(after, before);
  // A wrong token is refused by the transport, as by every route.
  await assert.rejects(connect('not-a-token-0123456789'), /401|nauthori/);
});

test('examples/mcp/review.mjs runs against the server', async () => {
  const run = promisify(execFile);
  const env = { ...process.env, HITL_TOKEN: agentToken, HITL_QUEUE: 'review', HITL_CONFIDENCE: '0.5' };
  const child = run(process.execPath, [process.env.HITL_MCP_EXAMPLE], { env, timeout: 60_000 });
  await decideNext('review', { kind: 'approve' });
  const { stdout } = await child;
  const last = JSON.parse(stdout.trim().split('\n').pop());
  assert.equal(last.state, 'decided');
  assert.equal(last.decision.outcome, 'approve');
});
