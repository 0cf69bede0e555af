// SPDX-License-Identifier: MIT
// Runs the refund graph of graph.mjs once, with its tool call gated by a hitl queue, and prints
// the graph's final state. A person decides in the web UI (or over the API) meanwhile.
//   HITL_URL=http://127.0.0.1:8080 HITL_TOKEN=<agent token> node main.mjs [queue] [order] [amount]
import { randomUUID } from 'node:crypto';
import { buildGraph, runWithHitl } from './graph.mjs';
import { HitlClient } from './hitl.mjs';

const [queue = 'refunds', order = 'A-1001', amount = '120'] = process.argv.slice(2);
const state = await runWithHitl(
  buildGraph(),
  { order: { id: order, amount: Number(amount), reason: 'arrived damaged' } },
  {
    client: new HitlClient(),
    queue,
    threadId: randomUUID(),
    timeoutSeconds: Number(process.env.HITL_TIMEOUT_SECONDS ?? 3600),
    onSubmit: (task) => console.error(`waiting for a person: task ${task.id} in queue ${queue}`),
  },
);
console.log(JSON.stringify(state, null, 2));
