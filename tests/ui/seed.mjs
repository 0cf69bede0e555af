// SPDX-License-Identifier: MIT
// Seeds the test server over the API: tokens, one queue per question type, and their tasks.
import fs from 'node:fs';
import {ADMIN, ok} from './lib.mjs';

const review = {rules: [{name: 'low-confidence', when: {confidence_below: 0.8}, then: {action: 'review'}},
                        {name: 'default', then: {action: 'accept'}}]};
const queues = {
  'support-replies': {
    description: 'Replies drafted by the support model',
    schema: {fields: [{name: 'message', type: 'text'}, {name: 'account', type: 'json'}],
             questions: [{name: 'verdict', type: 'approve'}]},
    policy: review, assignment: {roles: ['validator'], lease_seconds: 600}},
  'invoice-triage': {
    schema: {fields: [{name: 'summary', type: 'markdown'}, {name: 'scan', type: 'image_url'}],
             questions: [{name: 'category', type: 'label', labels: ['billing', 'shipping', 'refund', 'other']},
                         {name: 'flags', type: 'labels', labels: ['urgent', 'vip', 'fraud-risk']}]},
    assignment: {roles: ['validator', 'labeler']}},
  'answer-quality': {
    schema: {fields: [{name: 'question', type: 'text'}, {name: 'answer', type: 'markdown'}],
             questions: [{name: 'quality', type: 'rating', max: 5}]},
    assignment: {roles: ['validator']}},
  'model-arena': {
    schema: {fields: [{name: 'prompt', type: 'text'}], questions: [{name: 'better', type: 'preference'}]},
    assignment: {roles: ['validator']}},
  'ner': {
    schema: {fields: [{name: 'text', type: 'text'}],
             questions: [{name: 'entities', type: 'spans', labels: ['PER', 'ORG', 'LOC'], field: 'text'}]},
    assignment: {roles: ['annotator', 'validator']}},
  'rewrites': {
    schema: {fields: [{name: 'original', type: 'diff'}, {name: 'notes', type: 'markdown'}],
             questions: [{name: 'verdict', type: 'approve'}, {name: 'tone', type: 'label', labels: ['formal', 'friendly', 'curt']},
                         {name: 'fixed', type: 'text'}]},
    assignment: {roles: ['validator']}},
  'fragile': {schema: {fields: [{name: 'message', type: 'text'}], questions: [{name: 'verdict', type: 'approve'}]},
              assignment: {roles: ['corrector'], lease_seconds: 6}},
  'ops': {assignment: {roles: ['validator']}, sla: {deadline_seconds: 3600, on_timeout: 'escalate'}},
};

const scan = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="220"><rect width="360" height="220" fill="#fff" stroke="#889"/>' +
  '<text x="20" y="40" font-family="sans-serif" font-size="22">ACME GmbH — Invoice 4712</text>' +
  '<text x="20" y="90" font-family="monospace" font-size="16">3 x Widget        360.00</text>' +
  '<text x="20" y="115" font-family="monospace" font-size="16">Shipping           24.90</text>' +
  '<text x="20" y="170" font-family="monospace" font-size="18" font-weight="bold">Total EUR         384.90</text></svg>');

const messages = [
  ['My order #1182 arrived broken. Can I get a replacement?', 'Sorry to hear that! A replacement for order #1182 is on its way; you will get tracking by e-mail today.'],
  ['How do I change the e-mail on my account?', 'Go to Settings → Account → E-mail, enter the new address and confirm the link we send you.'],
  ['I was charged twice this month.', 'You were charged twice by mistake; we have refunded the second charge. It shows up in 3-5 days.'],
  ['Do you ship to Norway?', 'Yes, we ship to Norway. Delivery takes 4-6 working days.'],
  ['Cancel my subscription please', 'Your subscription is cancelled; you keep access until the end of the period.'],
  ['The app crashes when I open reports', 'Please update to version 4.2, which fixes the crash when opening reports.'],
  ['Can I pay by invoice?', 'Invoices are available on the Business plan. You can switch plans in Settings.'],
  ['Where is my refund?', 'Refunds take 3-5 working days after we receive the return.'],
  ['Password reset mail never arrives', 'Check your spam folder; if it is not there, we can reset it for you by phone.'],
  ['Is there a student discount?', 'Yes: 30 % off with a valid student e-mail address.'],
];

async function main() {
  const tokens = {};
  for (const [name, roles] of [['alice', ['validator', 'labeler', 'annotator']], ['bob', ['validator']],
                               ['carol', ['corrector']], ['dave', ['annotator']], ['agent', ['agent']]]) {
    tokens[name] = (await ok(ADMIN, 'POST', '/v1/tokens', {name, roles})).token;
  }
  for (const [name, config] of Object.entries(queues)) await ok(ADMIN, 'PUT', `/v1/queues/${name}`, config);
  const submit = (q, tasks) => ok(tokens.agent, 'POST', `/v1/queues/${q}/tasks/batch`, {tasks});

  await submit('support-replies', messages.map(([m, reply], i) => ({
    input: {message: m, account: {plan: i % 2 ? 'Business' : 'Personal', customer_since: 2019 + (i % 5), open_tickets: i % 3}},
    output: reply, confidence: 0.45 + i * 0.03, model_version: 'support-bot-7',
    context: '**Policy:** refunds within *30 days*; replacements for items broken in transit.\n\n- Tone: friendly\n- Never promise dates',
    priority: 10 - i})));
  await submit('support-replies', [{input: {message: 'Thanks!', account: {}}, output: 'You are welcome!', confidence: 0.97}]);

  await submit('invoice-triage', [
    {input: {summary: '## Invoice 4712\nFrom **ACME GmbH**, due in *14 days*.\n\n- 3 × Widget: 360.00\n- Shipping: 24.90', scan},
     output: {category: 'billing'}, probabilities: {billing: 0.48, shipping: 0.31, refund: 0.12, other: 0.09}},
    {input: {summary: 'Parcel returned: address unknown.', scan}, probabilities: {shipping: 0.6, other: 0.4}},
    {input: {summary: 'Please refund order 88.', scan}}]);

  await submit('answer-quality', [
    {input: {question: 'What is the boiling point of water at sea level?',
             answer: 'Water boils at **100 °C** (212 °F) at standard atmospheric pressure.\n\nAt higher altitude it boils at a *lower* temperature.'},
     model_version: 'qa-2', confidence: 0.7},
    {input: {question: 'Who wrote Faust?', answer: 'Johann Wolfgang von Goethe.'}},
    {input: {question: 'Name a prime number above 100.', answer: '101'}}]);

  await submit('model-arena', [
    {input: {prompt: 'Explain what a lease is in a review queue, in one sentence.'},
     output: {'model-a': 'A lease is a time-limited claim on a task: while you hold it, no one else gets that task, and it returns to the queue if you do not answer in time.',
              'model-b': 'Lease = lock.'}},
    {input: {prompt: 'Say hello politely.'}, output: {'model-a': 'Hi.', 'model-b': 'Hello, and thank you for reaching out!'}},
    {input: {prompt: 'Third pair'}, output: {'model-a': 'A', 'model-b': 'B'}}]);

  await submit('ner', [
    {input: {text: '𝐍𝐞𝐰𝐬: Maria Schmidt joined Acme Corp in Berlin last spring.'}},
    {input: {text: 'Ada Lovelace worked with Charles Babbage in London.'}},
    {input: {text: 'OpenStreetMap maps Paris.'}}]);

  await submit('rewrites', [
    {input: {original: 'hey, ur refund is coming soon i think, pls wait',
             notes: 'Rewrite for a **formal** customer letter.'},
     output: 'Hello, your refund is on its way and should arrive within five working days. Thank you for your patience.',
     confidence: 0.62, model_version: 'rewriter-3'},
    {input: {original: 'ok', notes: 'short'}, output: 'Okay.'}]);

  await submit('fragile', [{input: {message: 'A task whose lease will be lost'}, output: 'draft one'},
                           {input: {message: 'Second fragile task'}, output: 'draft two'},
                           {input: {message: 'Third fragile task'}, output: 'draft three'}]);
  await submit('ops', Array.from({length: 6}, (_, i) => ({input: {n: i}})));

  fs.writeFileSync(process.env.HITL_UI_STATE, JSON.stringify({tokens}));
  console.log('tests/ui: seeded', Object.keys(queues).length, 'queues');
}

main().catch((e) => { console.error(e); process.exit(1); });
