// SPDX-License-Identifier: MIT
// Webhook deliveries of a real server, each verified by the standardwebhooks library in a
// receiver process on 127.0.0.1 (receiver.mjs), started and stopped by its PID: every delivery,
// a receiver that is down for a while and one that answers 503 (the retries arrive and verify),
// a secret rotation (old and new secret both verify), redelivery by the CLI, and a secret in the
// wrong form (refused, nothing changes). The server runs on 127.0.0.1 with a fresh database and
// retries from 50 ms (10 s by default: the schedule's shape, in milliseconds). Run by run.sh.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {fileURLToPath} from 'node:url';

const BIN = process.env.HITL_BIN;
assert.ok(BIN, 'run these tests with tests/webhooks/run.sh (HITL_BIN)');
const here = path.dirname(fileURLToPath(import.meta.url));
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'hitl-webhooks-'));
const ADMIN = execFileSync(BIN, ['token', 'generate']).toString().trim();
const receivers = new Set();
let BASE, server, agent;

// Starts `hitl serve` on 127.0.0.1 (port 0); resolves to its URL once it listens.
function serve() {
  server = spawn(BIN, ['serve', '--db', path.join(TMP, 'hitl.db'), '--listen', '127.0.0.1:0',
                       '--webhook-retry-ms', '50'],
                 {env: {...process.env, HITL_ADMIN_TOKEN: ADMIN},
                  stdio: ['ignore', 'pipe', fs.openSync(path.join(TMP, 'server.log'), 'w')]});
  return new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`hitl serve exited ${code}`)));
    readline.createInterface({input: server.stdout}).once('line', (line) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(line);
      return m ? resolve(m[0]) : reject(new Error('hitl serve: ' + line));
    });
  });
}

async function call(token, method, p, body) {
  const r = await fetch(BASE + p, {method, headers: {Authorization: 'Bearer ' + token},
                                   body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await r.text();
  return {status: r.status, body: text ? JSON.parse(text) : null};
}
async function ok(token, method, p, body) {
  const r = await call(token, method, p, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// Polls check() every 25 ms until it returns a truthy value, at most ms; returns that value.
async function until(what, check, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Starts receiver.mjs; resolves to {pid, port, stop(), hits()} once it listens.
function receiver(name, {port = 0, failFirst = 0} = {}) {
  const secrets = path.join(TMP, name + '.secrets.json'), log = path.join(TMP, name + '.log');
  if (!fs.existsSync(secrets)) fs.writeFileSync(secrets, '[]');
  const child = spawn(process.execPath, [path.join(here, 'receiver.mjs'), '--port', String(port),
    '--secrets', secrets, '--log', log, '--fail-first', String(failFirst)], {stdio: ['ignore', 'pipe', 'inherit']});
  receivers.add(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`receiver ${name} exited ${code}`)));
    readline.createInterface({input: child.stdout}).once('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (!m) return reject(new Error('receiver: ' + line));
      resolve({
        pid: child.pid, port: Number(m[1]), name,
        secrets: (list) => fs.writeFileSync(secrets, JSON.stringify(list)),
        hits: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
        // Stopped by its PID; resolves once it has exited (its port then refuses connections).
        stop: () => new Promise((r) => {
          child.removeAllListeners('exit');
          child.once('exit', () => { receivers.delete(child); r(); });
          process.kill(child.pid, 'SIGTERM');
        }),
      });
    });
  });
}

const queueWith = (url, extra = {}) => ({
  policy: {rules: [{name: 'all', then: {action: 'accept'}}]},
  webhooks: [{url, events: ['task.submitted', 'task.decided'], ...extra}],
});
const deliveries = async (q, state = '') =>
  (await ok(ADMIN, 'GET', `/v1/queues/${q}/webhook-deliveries?limit=100${state && '&state=' + state}`)).deliveries;

before(async () => {
  BASE = await serve();
  agent = (await ok(ADMIN, 'POST', '/v1/tokens', {name: 'wh-agent', roles: ['agent']})).token;
});
after(async () => {
  for (const c of receivers) process.kill(c.pid, 'SIGTERM');
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    const gone = new Promise((r) => server.once('exit', (code) => r(code)));
    process.kill(server.pid, 'SIGTERM');
    const code = await gone;
    // A clean stop; a sanitizer build reports nothing (its reports go to the log).
    const log = fs.readFileSync(path.join(TMP, 'server.log'), 'utf8');
    const report = /Sanitizer|runtime error/.exec(log);
    if (code !== 0 || report) console.error(log.split('\n').filter((l) => !l.includes('level=info')).join('\n'));
    assert.equal(code, 0, 'hitl serve stopped cleanly');
    assert.equal(report, null, 'no sanitizer report');
  }
  fs.rmSync(TMP, {recursive: true, force: true});
});

test('every delivery verifies with the secret shown once; webhook-id is the delivery', async () => {
  const r = await receiver('every');
  const put = await ok(ADMIN, 'PUT', '/v1/queues/wh-every', queueWith(`http://127.0.0.1:${r.port}/hook`));
  const secret = put.webhook_secrets[0].secret;
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  r.secrets([secret]);
  // Never shown again, to an orchestrator neither.
  const got = await call(ADMIN, 'GET', '/v1/queues/wh-every');
  assert.ok(!JSON.stringify(got.body).includes(secret.slice(6)));
  assert.equal(got.body.config.webhooks[0].secret_hint, 'whsec_...' + secret.slice(-4));
  for (let i = 0; i < 5; i++) await ok(agent, 'POST', '/v1/queues/wh-every/tasks', {input: {n: i}});
  // One delivery a task: task.submitted, which carries the policy's decision.
  await until('5 deliveries delivered', async () => (await deliveries('wh-every', 'delivered')).length === 5);
  const hits = r.hits();
  assert.equal(hits.length, 5);
  assert.deepEqual(new Set(hits.map((h) => h.event)), new Set(['task.submitted']));
  for (const h of hits) {
    assert.equal(h.verified, true, JSON.stringify(h));
    assert.equal(h.id, h.delivery);
    assert.equal(h.signatures, 1);
  }
  const ids = new Set((await deliveries('wh-every')).map((d) => d.id));
  assert.deepEqual(new Set(hits.map((h) => h.id)), ids);
  // The library is no pushover: with another secret the receiver refuses (401), and it is retried.
  r.secrets(['whsec_' + crypto.randomBytes(32).toString('base64')]);
  await ok(agent, 'POST', '/v1/queues/wh-every/tasks', {input: {n: 5}});
  const refused = await until('a refused delivery', () => r.hits().find((h) => !h.verified));
  assert.equal(refused.status, 401);
  await until('its retry', () => r.hits().filter((h) => h.id === refused.id).length >= 2);
  await r.stop();
});

test('a receiver that refuses connections for a while gets the retry when it is back', async () => {
  const r = await receiver('down');
  const port = r.port;
  const put = await ok(ADMIN, 'PUT', '/v1/queues/wh-down',
                       {...queueWith(`http://127.0.0.1:${port}/hook`), webhooks: [{url: `http://127.0.0.1:${port}/hook`, events: ['task.decided']}]});
  r.secrets([put.webhook_secrets[0].secret]);
  await r.stop(); // Down: its port refuses connections.
  await ok(agent, 'POST', '/v1/queues/wh-down/tasks', {input: {}});
  const [d] = await until('two failed attempts', async () => {
    const ds = await deliveries('wh-down');
    return ds.length === 1 && ds[0].attempts >= 2 ? ds : null;
  });
  assert.equal(d.state, 'pending');
  assert.match(d.last_error, /connect/i);
  const back = await receiver('down', {port}); // Recovers on the same port.
  await until('the retry delivered', async () => (await deliveries('wh-down', 'delivered')).length === 1);
  const hits = back.hits();
  assert.equal(hits.length, 1);
  assert.equal(hits[0].id, d.id);
  assert.equal(hits[0].verified, true);
  await back.stop();
});

test('a receiver that answers 503 three times gets the same webhook-id until it takes it', async () => {
  const r = await receiver('busy', {failFirst: 3});
  const put = await ok(ADMIN, 'PUT', '/v1/queues/wh-busy',
                       {...queueWith(''), webhooks: [{url: `http://127.0.0.1:${r.port}/hook`, events: ['task.decided']}]});
  r.secrets([put.webhook_secrets[0].secret]);
  await ok(agent, 'POST', '/v1/queues/wh-busy/tasks', {input: {}});
  const [d] = await until('delivered', async () => {
    const ds = await deliveries('wh-busy', 'delivered');
    return ds.length === 1 ? ds : null;
  });
  assert.equal(d.attempts, 4);
  const hits = r.hits();
  assert.deepEqual(hits.map((h) => h.status), [503, 503, 503, 204]);
  for (const h of hits) {
    assert.equal(h.id, d.id);
    assert.equal(h.verified, true);
  }
  await r.stop();
});

test('rotation: for a while both secrets verify; redelivery by the CLI verifies too', async () => {
  const r = await receiver('rotate');
  const url = `http://127.0.0.1:${r.port}/hook`;
  const put = await ok(ADMIN, 'PUT', '/v1/queues/wh-rotate', queueWith(url));
  const old = put.webhook_secrets[0].secret;
  const fresh = 'whsec_' + crypto.randomBytes(32).toString('base64');
  const rotated = await ok(ADMIN, 'PUT', '/v1/queues/wh-rotate', queueWith(url, {secret: fresh}));
  assert.equal(rotated.webhook_secrets, undefined); // Given, not generated: nothing to show.
  assert.equal(rotated.config.webhooks[0].secret_hint, 'whsec_...' + fresh.slice(-4));
  assert.equal(rotated.config.webhooks[0].previous_secret_hint, 'whsec_...' + old.slice(-4));
  assert.ok(Date.parse(rotated.config.webhooks[0].rotation_ends_at) > Date.now() + 23 * 3600 * 1000);
  r.secrets([old]); // A receiver not yet told of the new secret.
  await ok(agent, 'POST', '/v1/queues/wh-rotate/tasks', {input: {}});
  await until('1 delivered', async () => (await deliveries('wh-rotate', 'delivered')).length === 1);
  r.secrets([fresh]); // One that already uses the new one.
  await ok(agent, 'POST', '/v1/queues/wh-rotate/tasks', {input: {}});
  await until('2 delivered', async () => (await deliveries('wh-rotate', 'delivered')).length === 2);
  const hits = r.hits();
  assert.equal(hits.length, 2);
  for (const h of hits) {
    assert.equal(h.signatures, 2);
    assert.equal(h.verified, true);
  }
  assert.deepEqual(hits.map((h) => h.by), [old, fresh]);

  // Redelivered by `hitl queue redeliver`: the same webhook-id, verified again.
  const first = hits[0].id;
  const out = execFileSync(process.env.HITL_BIN, ['queue', 'redeliver', 'wh-rotate', first],
                           {env: {...process.env, HITL_URL: BASE, HITL_TOKEN: ADMIN}}).toString();
  assert.equal(JSON.parse(out).state, 'pending');
  await until('the redelivery', async () => r.hits().length === 3);
  const again = r.hits()[2];
  assert.equal(again.id, first);
  assert.equal(again.verified, true);
  await r.stop();
});

test('a secret in the wrong form: 400 naming the field, and nothing stored changes', async () => {
  const url = 'http://127.0.0.1:1/hook';
  await ok(ADMIN, 'PUT', '/v1/queues/wh-bad', queueWith(url));
  const before = await ok(ADMIN, 'GET', '/v1/queues/wh-bad');
  for (const secret of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_short', 'whsec_' + 'A'.repeat(200), 42]) {
    const r = await call(ADMIN, 'PUT', '/v1/queues/wh-bad', queueWith(url, {secret}));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'validation_failed');
    assert.equal(r.body.error.field, 'webhooks[0].secret');
  }
  const after = await ok(ADMIN, 'GET', '/v1/queues/wh-bad');
  assert.deepEqual(after.config, before.config);
  assert.equal(after.updated_at, before.updated_at);
});
