// SPDX-License-Identifier: MIT
// A LangGraph graph whose tool call waits for a person: a scripted planner proposes a refund,
// the review node pauses the graph with interrupt(), runWithHitl() sends the proposal to a hitl
// queue, waits for the decision, and resumes the graph with Command({resume}) carrying it:
// approve runs the tool, edit runs it with the reviewer's arguments, reject skips it with the
// reviewer's message. No language model is needed.

import { Annotation, Command, END, MemorySaver, START, StateGraph, interrupt } from '@langchain/langgraph';
import { decisionOf } from './hitl.mjs';

const State = Annotation.Root({
  order: Annotation(), // {id, amount, reason}: what the user asked for.
  proposal: Annotation(), // {tool, args}: the tool call the planner proposes.
  decision: Annotation(), // {action, args?, message?}: what the person decided.
  executed: Annotation(), // {tool, args} of the call that ran, or null when none did.
  result: Annotation(), // What the agent tells the user at the end.
});

/** The tool behind the gate. */
function refund({ order_id: orderId, amount, currency = 'EUR' }) {
  return `refunded ${amount} ${currency} on ${orderId}`;
}

/** Stands in for a model: proposes one tool call from the request. */
function plan(state) {
  const { id, amount, reason } = state.order;
  return { proposal: { tool: 'refund', args: { order_id: id, amount, reason } } };
}

/**
 * Pauses the graph until a person decides. interrupt() returns the value of the Command's
 * resume; the node runs again from its start on resume, so it does nothing before interrupt().
 */
function review(state) {
  const decision = interrupt(state.proposal);
  if (decision.action === 'approve') return new Command({ update: { decision }, goto: 'act' });
  if (decision.action === 'edit') {
    const args = { ...state.proposal.args, ...decision.args };
    return new Command({ update: { decision, proposal: { ...state.proposal, args } }, goto: 'act' });
  }
  return new Command({ update: { decision }, goto: 'refuse' });
}

function act(state) {
  const { tool, args } = state.proposal;
  return { executed: { tool, args }, result: refund(args) };
}

function refuse(state) {
  return { executed: null, result: `not done: ${state.decision.message}` };
}

/** The compiled graph, with an in-memory checkpointer (interrupts need one). */
export function buildGraph(checkpointer = new MemorySaver()) {
  return new StateGraph(State)
    .addNode('plan', plan)
    .addNode('review', review, { ends: ['act', 'refuse'] })
    .addNode('act', act)
    .addNode('refuse', refuse)
    .addEdge(START, 'plan')
    .addEdge('plan', 'review')
    .addEdge('act', END)
    .addEdge('refuse', END)
    .compile({ checkpointer });
}

/** The resume value for a final hitl task: approve, edit with new arguments, or reject. */
export function resumeFor(task) {
  const d = decisionOf(task);
  if (d.outcome === 'approve') return { action: 'approve' };
  if (d.outcome === 'modify' && d.value && typeof d.value === 'object') return { action: 'edit', args: d.value };
  return { action: 'reject', message: d.comment ?? `${d.outcome}${d.by ? ` by ${d.by}` : ''}` };
}

/**
 * Runs the graph on input in thread threadId; every interrupt goes to the hitl queue as a task
 * {input: proposal, output: proposal.args} and the graph resumes with the decision. With
 * timeoutSeconds, an undecided task is cancelled and the graph resumes with a reject (fail
 * closed). task holds more members for each submitted task (deadline_seconds, run_id,
 * priority, ...). onSubmit(task) sees each task submitted. Resolves to the graph's final state.
 */
export async function runWithHitl(graph, input, { client, queue, threadId, timeoutSeconds, onSubmit, task: extra }) {
  const config = { configurable: { thread_id: threadId } };
  await graph.invoke(input, config);
  for (;;) {
    const snapshot = await graph.getState(config);
    const pending = snapshot.tasks.flatMap((t) => t.interrupts ?? []);
    if (pending.length === 0) return snapshot.values;
    const proposal = pending[0].value;
    // The key makes a retried run reuse its task instead of asking people twice.
    let task = await client.submit(queue, {
      input: proposal,
      output: proposal.args,
      metadata: { thread_id: threadId },
      idempotency_key: `${threadId}:${pending[0].id}`,
      ...extra,
    });
    onSubmit?.(task);
    task = await client.waitForDecision(task.id, { timeoutSeconds });
    if (task.state === 'pending' || task.state === 'leased') {
      await client.cancel(task.id).catch(() => {});
      task = await client.getTask(task.id);
    }
    await graph.invoke(new Command({ resume: resumeFor(task) }), config);
  }
}
