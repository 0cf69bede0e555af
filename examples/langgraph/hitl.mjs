// SPDX-License-Identifier: MIT
// A small hitl client for Node.js (18 or later, built-in fetch): the calls an agent and a
// reviewer make. docs/api.md describes the routes; clients/python/hitl.py is the Python twin.

/** A task in one of these states still waits for people; every other state is final. */
export const OPEN_STATES = ['pending', 'leased'];

/** An error answer from the server: status, code, message and field of its JSON error body. */
export class HitlError extends Error {
  constructor(status, code, message, field) {
    super(`hitl: ${status} ${code}: ${message}${field ? ` (field ${field})` : ''}`);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** One hitl server seen with one token. */
export class HitlClient {
  constructor(url = process.env.HITL_URL, token = process.env.HITL_TOKEN) {
    if (!url || !token) throw new Error('HitlClient needs a url and a token (HITL_URL, HITL_TOKEN)');
    this.url = url.replace(/\/+$/, '');
    this.token = token;
  }

  /** Sends one request; resolves to the decoded JSON body, or null for an empty one (204). */
  async request(method, path, body) {
    const headers = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? (method === 'POST' ? '' : undefined) : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      let error = {};
      try { error = JSON.parse(text).error ?? {}; } catch { /* not the JSON error shape */ }
      throw new HitlError(res.status, error.code ?? `http_${res.status}`, error.message ?? text, error.field);
    }
    return text ? JSON.parse(text) : null;
  }

  /** Submits a task ({input, output, metadata, idempotency_key, ...}) to a queue. */
  submit(queue, task) {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/tasks`, task);
  }

  /** One task with its responses; wait (0 to 120 s) long-polls while it is open. */
  getTask(id, wait) {
    const query = wait === undefined ? '' : `?wait=${wait}`;
    return this.request('GET', `/v1/tasks/${encodeURIComponent(id)}${query}`);
  }

  /**
   * Resolves to the task once it is final, long-polling up to 60 s at a time. With
   * timeoutSeconds, resolves to the still-open task when that time passes first.
   */
  async waitForDecision(id, { timeoutSeconds } = {}) {
    const end = timeoutSeconds === undefined ? Infinity : Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const wait = Math.max(0, Math.min(60, Math.ceil((end - Date.now()) / 1000)));
      const task = await this.getTask(id, wait);
      if (!OPEN_STATES.includes(task.state) || Date.now() >= end) return task;
    }
  }

  /** Cancels an open task that this token submitted. */
  cancel(id) {
    return this.request('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  /** Leases the queue's next task (with its lease), or null when there is none. */
  claim(queue) {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/claim`);
  }

  /** Answers a claimed task: answer is {kind, value, comment, ...} (docs/api.md). */
  respond(task, answer) {
    return this.request('POST', `/v1/tasks/${encodeURIComponent(task.id)}/responses`,
      { lease_id: task.lease.id, ...answer });
  }
}

/**
 * A final task's decision as {outcome, by, value, comment}: outcome approve, modify, reject,
 * answered, expired, or cancelled; value the corrected output of a modify; comment the last
 * comment of an answer of the deciding kind.
 */
export function decisionOf(task) {
  const decision = task.decision ?? {};
  const outcome = decision.outcome ?? task.state;
  const answer = Object.values(decision.answers ?? {}).find((a) => a.kind === outcome);
  const comments = (task.responses ?? []).filter((r) => r.kind === outcome && r.comment);
  return {
    outcome,
    by: decision.by ?? null,
    value: answer?.value ?? null,
    comment: comments.length ? comments[comments.length - 1].comment : null,
  };
}
