// SPDX-License-Identifier: MIT
// An agent asks people to review its output through hitl's MCP server, with the official MCP
// TypeScript SDK: request_review submits the output; when the queue's policy leaves it to
// people, get_decision waits (the server holds the request, up to wait_seconds) until they
// decide.
//
//   npm ci                      # in this directory: installs @modelcontextprotocol/sdk
//   HITL_URL=http://127.0.0.1:8080 HITL_TOKEN=<an agent token> HITL_QUEUE=review node review.mjs
//
// HITL_CONFIDENCE (default 0.6) is the confidence reported with the output: the queue's policy
// may accept a confident output at once and send a doubtful one to people.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.env.HITL_URL ?? 'http://127.0.0.1:8080';
const token = process.env.HITL_TOKEN;
const queue = process.env.HITL_QUEUE ?? 'review';
const confidence = Number(process.env.HITL_CONFIDENCE ?? 0.6);
if (!token) {
  console.error('set HITL_TOKEN to a hitl token with the agent role');
  process.exit(2);
}

// The same bearer token as the REST API, on every request of the transport.
const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: 'hitl-example-agent', version: '1.0.0' });
await client.connect(transport);

const review = await client.callTool({
  name: 'request_review',
  arguments: {
    queue,
    input: { text: 'Refund order 1042: the parcel arrived damaged.' },
    output: { action: 'refund', amount: 35.9 },
    confidence,
    context: { customer_since: '2021-03-02' },
  },
});
if (review.isError) throw new Error(review.content[0].text);
console.log(review.content[0].text);

// Undecided: wait for people, 60 s at a time (the request timeout is raised to match).
let result = review.structuredContent;
while (result.state === 'pending' || result.state === 'leased') {
  const answer = await client.callTool(
    { name: 'get_decision', arguments: { task_id: result.task_id, wait_seconds: 60 } },
    undefined,
    { timeout: 90_000 },
  );
  if (answer.isError) throw new Error(answer.content[0].text);
  result = answer.structuredContent;
  console.log(answer.content[0].text);
}
console.log(JSON.stringify({ task_id: result.task_id, state: result.state, decision: result.decision }));
await client.close();
