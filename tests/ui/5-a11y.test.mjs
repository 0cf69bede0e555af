// SPDX-License-Identifier: MIT
// Accessibility: axe-core (WCAG 2.1 A/AA) on every screen at desktop and phone width, the keyboard
// alone (Enter on the focused control, shortcuts off, Undo of skip and escalate, focus after a
// submit), what a screen reader is told, the contrast of non-text parts, and the phone's answer bar.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, BASE, ok, tokens, launch, newPage, signIn, shot, shownTask, nextTask, decided, axe} from './lib.mjs';
import {SCENE, street, wav, mediaServer} from './media.mjs';

let browser, T, ally, media;
const Q = 'a11y';
const DESK = {width: 1280, height: 800}, PHONE = {width: 390, height: 844};

// One queue with every field type and every question type of the workspace.
const schema = {
  fields: [{name: 'message', type: 'text'}, {name: 'notes', type: 'markdown'}, {name: 'meta', type: 'json'},
           {name: 'scan', type: 'image_url'}, {name: 'draft', type: 'diff'}],
  questions: [{name: 'verdict', type: 'approve'}, {name: 'category', type: 'label', labels: ['billing', 'shipping', 'other']},
              {name: 'flags', type: 'labels', labels: ['urgent', 'vip']}, {name: 'quality', type: 'rating', max: 5},
              {name: 'better', type: 'preference'}, {name: 'entities', type: 'spans', field: 'message', labels: ['PER', 'ORG']},
              {name: 'fixed', type: 'text'}]};
const scan = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80"><rect width="200" height="80" fill="#fff"/>' +
  '<text x="10" y="45" font-family="sans-serif" font-size="20">Invoice 17</text></svg>');
const task = (i) => ({
  input: {message: `Maria Schmidt of Acme Corp asks about order ${i}.`, notes: '**Policy:** be *kind*.',
          meta: {order: i}, scan, draft: 'hey ur order is late'},
  output: {text: 'Hello, your order is on its way.', better: {'model-a': 'Short reply.', 'model-b': 'A longer, friendlier reply.'}},
  confidence: 0.65, probabilities: {billing: 0.6, shipping: 0.3, other: 0.1}, model_version: 'm-1'});

async function fresh(queue, n, extra = {}) {
  await ok(ADMIN, 'PUT', `/v1/queues/${queue}`, {schema, assignment: {roles: ['validator']}, ...extra});
  if (n) await ok(ADMIN, 'POST', `/v1/queues/${queue}/tasks/batch`, {tasks: Array.from({length: n}, (_, i) => task(i))});
}

before(async () => {
  browser = await launch();
  T = tokens();
  await fresh(Q, 4);
  const {queues} = await ok(ADMIN, 'GET', '/v1/queues');
  const roles = [...new Set(queues.flatMap((q) => q.config.assignment.roles))];
  ally = (await ok(ADMIN, 'POST', '/v1/tokens', {name: 'ally', roles})).token;
});
after(async () => { await browser?.close(); await media?.close(); });

// The serious violations of the screen now shown, at both widths, as "screen @ width: ...".
async function sweep(page, name, ready) {
  const out = [];
  for (const vp of [DESK, PHONE]) {
    await page.setViewportSize(vp);
    if (ready) await ready();
    for (const v of await axe(page)) out.push(`${name} @ ${vp.width}: ${v}`);
  }
  await page.setViewportSize(DESK);
  return out;
}

// The contrast ratio of two CSS colours (rgb/rgba strings), as WCAG defines it.
const contrast = (a, b) => {
  const lum = (c) => c.match(/[\d.]+/g).slice(0, 3).map((x) => x / 255).map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4))
    .reduce((s, x, i) => s + x * [0.2126, 0.7152, 0.0722][i], 0);
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};

test('axe-core finds no serious or critical violation on any screen, at desktop and phone width', async () => {
  const found = [];
  const visit = async (page, hash, name, ready) => {
    await page.goto(BASE + '/' + hash);
    await ready();
    found.push(...(await sweep(page, name)));
  };
  // Signed out.
  let page = await newPage(browser);
  await visit(page, '#/signin', 'sign-in', () => page.locator('#token').waitFor());
  await page.getByLabel('Access token').fill('hitl_not_a_real_token');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByText('This token is unknown or revoked').waitFor();
  found.push(...(await sweep(page, 'sign-in refused')));
  await page.context().close();

  // A reviewer: the queue list, the workspace of every queue with work (and of an empty one).
  page = await newPage(browser);
  await signIn(page, ally, '#/review');
  await page.locator('.queuelink').first().waitFor();
  found.push(...(await sweep(page, 'queue list')));
  await visit(page, '#/review/' + Q, 'workspace (every question type)', () => shownTask(page));
  await page.keyboard.press('e');
  await page.getByLabel('Corrected output for verdict').waitFor();
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.keyboard.press('2');
  found.push(...(await sweep(page, 'workspace editing')));
  await page.keyboard.press('?');
  await page.locator('dialog.help[open]').waitFor();
  found.push(...(await sweep(page, 'keys dialog')));
  await page.keyboard.press('Escape');
  const {queues} = await ok(ADMIN, 'GET', '/v1/queues');
  for (const q of queues.filter((x) => x.name !== Q && x.counts.pending > 0 && x.config.schema.questions.length)) {
    await page.goto(BASE + '/#/review/' + encodeURIComponent(q.name));
    const shown = await page.waitForFunction(() => document.querySelector('main[data-task-id] #submit:not([disabled])') ||
                                             document.querySelector('.workspace .empty'));
    await shown.dispose();
    found.push(...(await sweep(page, `workspace ${q.name}`)));
  }
  await fresh('a11y-empty', 0);
  await visit(page, '#/review/a11y-empty', 'empty workspace', () => page.getByText('Nothing to review right now').waitFor());
  await visit(page, '#/history', 'history', () => page.locator('#history').waitFor());
  await visit(page, '#/runs', 'runs', () => page.locator('h1').first().waitFor());
  await page.context().close();

  // A lost lease.
  page = await newPage(browser);
  await signIn(page, ally, '#/review/' + Q);
  const lostId = await shownTask(page);
  await ok(ADMIN, 'POST', `/v1/tasks/${lostId}/cancel`);
  await page.keyboard.press('a');
  await page.keyboard.press('Control+Enter');
  await page.locator('#banner').getByText('Your lease on this task was lost').waitFor();
  found.push(...(await sweep(page, 'lost lease')));
  await page.context().close();

  // The orchestrator's screens.
  await fresh('a11y-hooks', 0, {webhooks: [{url: 'http://127.0.0.1:1/hook', events: ['task.submitted']}]});
  await ok(ADMIN, 'POST', '/v1/queues/a11y-hooks/tasks', {input: {message: 'x'}});
  page = await newPage(browser);
  await signIn(page, ADMIN, '#/dashboard');
  await page.locator('#depth').waitFor();
  found.push(...(await sweep(page, 'dashboard')));
  await visit(page, '#/config/' + Q, 'queue configuration',
              () => page.waitForFunction(() => document.getElementById('config')?.value.includes('"questions"')));
  await page.locator('#config').fill('{"schema": 1}');
  await page.keyboard.press('Control+s');
  await page.locator('#cfgerr').getByText(/schema/).waitFor();
  found.push(...(await sweep(page, 'configuration error')));
  await visit(page, '#/config/a11y-hooks', 'webhook deliveries', () => page.locator('#deliveries tbody tr').first().waitFor());
  await visit(page, '#/audit', 'audit', () => page.locator('table').first().waitFor());
  await visit(page, '#/audit/task/' + lostId, 'audit of a task', () => page.locator('h1').first().waitFor());
  await visit(page, '#/runs', 'runs (orchestrator)', () => page.locator('h1').first().waitFor());
  await visit(page, '#/calibration', 'calibration', () => page.locator('h1').first().waitFor());
  await page.context().close();

  assert.deepEqual(found, [], `${found.length} serious or critical axe-core violations:\n${found.join('\n')}`);
});

// Presses Tab until the focused element matches sel (at most 60 times); fails otherwise.
async function tabTo(page, sel) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((x) => document.activeElement.matches(x), sel)) return;
  }
  assert.fail(`Tab never reached ${sel}`);
}

const approveOnly = {fields: [{name: 'message', type: 'text'}], questions: [{name: 'verdict', type: 'approve'}]};
async function queueOf(name, n) {
  await ok(ADMIN, 'PUT', `/v1/queues/${name}`, {schema: approveOnly, assignment: {roles: ['validator']}});
  await ok(ADMIN, 'POST', `/v1/queues/${name}/tasks/batch`,
           {tasks: Array.from({length: n}, (_, i) => ({input: {message: `message ${i}`}, output: `reply ${i}`}))});
}
const responsesOf = async (id) => (await ok(ADMIN, 'GET', `/v1/tasks/${id}`)).responses.map((r) => r.kind);

test('Enter presses the focused button (R, Tab to Approve, Enter stores approve); Ctrl+Enter submits from anywhere', async () => {
  await queueOf('a11y-enter', 3);
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/a11y-enter');
  const id = await shownTask(page);
  await page.keyboard.press('r');
  await tabTo(page, '.q-approve button.approve');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('.q-approve button.approve').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('main').getAttribute('data-task-id'), id, 'Enter on Approve did not submit');
  // Enter on the focused Submit button submits; so does Ctrl+Enter from the comment box.
  await page.locator('#submit').focus();
  await page.keyboard.press('Enter');
  const id2 = await nextTask(page, id);
  assert.equal((await decided(id)).decision.outcome, 'approve');
  await page.keyboard.press('r');
  await page.locator('#comment').focus();
  await page.keyboard.press('Control+Enter');
  await nextTask(page, id2);
  assert.equal((await decided(id2)).decision.outcome, 'reject');
  await page.context().close();
});

test('single-character keys can be turned off or put behind Alt (kept in the browser)', async () => {
  await queueOf('a11y-letters', 3);
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/a11y-letters');
  const id = await shownTask(page);
  await page.getByRole('button', {name: /Keys/}).click();
  await page.getByLabel('Single-character keys').selectOption('off');
  await shot(page, 'keys-dialog');
  await page.getByRole('button', {name: 'Close'}).click();
  // After the dialog, and after the focus went to the task's heading: "looks" does nothing.
  await page.locator('#taskhead').focus();
  await page.keyboard.type('looks');
  await page.keyboard.press('a');
  assert.equal(await page.locator('#undo').count(), 0, 'no skip waiting for its Undo');
  assert.equal(await page.locator('.q-approve button.approve').getAttribute('aria-pressed'), 'false');
  assert.equal(await page.locator('main').getAttribute('data-task-id'), id);
  assert.equal(await page.locator('.q-approve button.approve kbd').isVisible(), false, 'no hint of a key that is off');
  assert.equal(await page.locator('#submit kbd').isVisible(), true, 'Enter still submits');
  assert.deepEqual(await responsesOf(id), []);
  // The setting is remembered; with "Only with Alt held", Alt+A approves and A alone does not.
  await page.reload();
  await shownTask(page);
  assert.equal(await page.evaluate(() => localStorage.getItem('hitl.keys')), 'off');
  await page.getByRole('button', {name: /Keys/}).click();
  assert.equal(await page.getByLabel('Single-character keys').inputValue(), 'off');
  await page.getByLabel('Single-character keys').selectOption('alt');
  await page.getByRole('button', {name: 'Close'}).click();
  assert.equal(await page.locator('.q-approve button.approve kbd').evaluate((k) => getComputedStyle(k, '::before').content), '"Alt+"');
  await page.keyboard.press('a');
  assert.equal(await page.locator('.q-approve button.approve').getAttribute('aria-pressed'), 'false');
  await page.keyboard.press('Alt+a');
  assert.equal(await page.locator('.q-approve button.approve').getAttribute('aria-pressed'), 'true');
  await page.context().close();
});

test('skip and escalate wait a few seconds for Undo: undone, nothing is sent; not undone, it is sent', async () => {
  await queueOf('a11y-undo', 4);
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/a11y-undo');
  const id = await shownTask(page);
  await page.keyboard.press('s');
  const undo = page.getByRole('button', {name: 'Undo skip'});
  await undo.waitFor();
  const id2 = await nextTask(page, id);
  await shot(page, 'workspace-undo');
  assert.ok(await page.evaluate(() => document.activeElement.id === 'taskhead'), 'the focus is on the new task');
  await page.keyboard.press('Control+z');
  await page.waitForFunction((x) => document.querySelector('main').dataset.taskId === x, id);
  assert.equal(await undo.count(), 0);
  // The lease was never given up: the same task is answered, and it has no skip.
  await page.keyboard.press('a');
  await page.keyboard.press('Enter');
  await nextTask(page, id);
  assert.equal((await decided(id)).decision.outcome, 'approve');
  assert.deepEqual(await responsesOf(id), ['approve']);
  // Escalate, undone by its button reached with the keyboard.
  const id3 = await shownTask(page);
  await page.keyboard.press('x');
  await page.getByRole('button', {name: 'Undo escalate'}).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((x) => document.querySelector('main').dataset.taskId === x, id3);
  // A skip left alone is sent when its window is over.
  await page.click('#skip');
  await nextTask(page, id3);
  for (const end = Date.now() + 10000; !(await responsesOf(id3)).includes('skip');) {
    assert.ok(Date.now() < end, 'the skip was sent after its Undo window');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(await responsesOf(id3), ['skip']);
  assert.notEqual(id2, id);
  await page.context().close();
});

test('screen readers: the new task is announced and focused, the active question and the candidates are named, a span selection is told', async () => {
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/' + Q);
  const id = await shownTask(page);
  const state = () => page.evaluate(() => ({focus: document.activeElement.id, heading: document.activeElement.tagName,
                                            said: document.getElementById('announce').textContent}));
  assert.deepEqual(await state(), {focus: 'taskhead', heading: 'H2', said: `New task ${id} in ${Q}.`});
  assert.equal(await page.getByRole('heading', {name: `Task ${id}`}).count(), 1);
  // The question that takes the digits is marked aria-current, and J moves it.
  const current = () => page.locator('.q[aria-current=true]').getAttribute('data-question');
  assert.equal(await current(), 'category');
  assert.equal(await page.locator('[aria-current=true]').count(), 1);
  await page.keyboard.press('j');
  assert.equal(await current(), 'flags');
  assert.equal(await page.getByRole('group', {name: 'Question flags (labels)'}).count(), 1);
  // Candidates are named by their text.
  await page.getByRole('button', {name: /^Candidate model-b .*longer, friendlier reply/}).waitFor();
  // A selection in the text is told.
  await page.locator('.spantext').focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowRight');
  const said = await page.locator('.spantext').evaluate((n) => document.getElementById(n.getAttribute('aria-describedby')).textContent);
  assert.equal(said, 'Selected “Maria”, characters 0 to 5.');
  // After a submit, the next task is announced and its heading has the focus.
  await page.keyboard.press('Escape');
  await page.locator('#taskhead').focus();
  await page.keyboard.press('a');
  await page.keyboard.press('Enter');
  const id2 = await nextTask(page, id);
  assert.deepEqual(await state(), {focus: 'taskhead', heading: 'H2', said: `New task ${id2} in ${Q}.`});
  await page.context().close();
});

test('non-text contrast: focus ring, confidence bar and track, stars, captions, gutters', async () => {
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/' + Q);
  await shownTask(page);
  await page.locator('.star').nth(3).click();
  await page.locator('.star.on').nth(3).waitFor();
  await tabTo(page, '.q-approve button.approve');
  const ratios = await page.evaluate(() => {
    const rgb = (c) => c.match(/[\d.]+/g).slice(0, 4).map(Number);
    const lum = (c) => { const v = rgb(c).slice(0, 3).map((x) => x / 255).map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4));
                         return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return +((x + 0.05) / (y + 0.05)).toFixed(2); };
    const bg = (n) => { for (; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (rgb(c)[3] !== 0) return c; } return 'rgb(255, 255, 255)'; };
    const cs = (sel) => getComputedStyle(document.querySelector(sel));
    const focused = document.activeElement, bar = document.querySelector('.conf .bar');
    return {
      focusRing: ratio(getComputedStyle(focused).outlineColor, bg(focused.parentElement)),
      midBarOnTrack: ratio(getComputedStyle(bar.firstChild).backgroundColor, getComputedStyle(bar).backgroundColor),
      trackEdge: ratio(getComputedStyle(bar).borderTopColor, bg(bar.parentElement)),
      starOnVsOff: ratio(cs('.star.on').color, cs('.star:not(.on)').color),
      starOn: ratio(cs('.star.on').color, bg(document.querySelector('.star.on'))),
      starOff: ratio(cs('.star:not(.on)').color, bg(document.querySelector('.star:not(.on)'))),
      caption: ratio(cs('.ftype').color, bg(document.querySelector('.ftype'))),
      activeBar: ratio(cs('.q.active').borderLeftColor, bg(document.querySelector('.q.active'))),
      // Last: it moves the focus to the dark header (after keys, so it is focus-visible).
      headerFocusRing: (() => { const a = document.querySelector('.top nav a'); a.focus();
                                return a.matches(':focus-visible') ? ratio(getComputedStyle(a).outlineColor, bg(a.parentElement)) : 0; })(),
    };
  });
  assert.ok(await page.locator('.conf .bar .fill.mid').count() >= 1, 'the mid-confidence bar is drawn');
  for (const [k, v] of Object.entries(ratios)) assert.ok(v >= (k === 'caption' ? 4.5 : 3), `${k}: ${v}:1`);
  await page.context().close();

  const admin = await newPage(browser);
  await signIn(admin, ADMIN, '#/config/' + Q);
  await admin.locator('.gutter div').first().waitFor();
  const gutter = await admin.locator('.gutter div').first().evaluate((n) => [getComputedStyle(n).color, getComputedStyle(n.parentElement).backgroundColor]);
  assert.ok(contrast(...gutter) >= 4.5, `editor gutter ${contrast(...gutter).toFixed(2)}:1`);
  await admin.context().close();
});

test('on a phone and at 200 % zoom the answer bar never covers the focused control; tables scroll by keyboard', async () => {
  await queueOf('a11y-phone', 4);
  // 390 x 844 is a phone; 640 x 400 is a 1280 x 800 window zoomed to 200 %.
  for (const vp of [PHONE, {width: 640, height: 400}]) {
    const page = await newPage(browser, vp);
    await signIn(page, ally, '#/review/a11y-phone');
    await shownTask(page);
    // The focused button is at its own place, not under the bar: elementFromPoint at its centre.
    const clear = () => page.evaluate(() => {
      const b = document.activeElement, r = b.getBoundingClientRect();
      const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return at && b.contains(at) ? '' : at ? at.className || at.tagName : 'off screen';
    });
    const visible = async (what) => {
      await page.waitForFunction(() => { const b = document.activeElement, r = b.getBoundingClientRect();
                                         const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                                         return at && b.contains(at); }, null, {timeout: 2000})
        .catch(async () => assert.fail(`${what} at ${vp.width}x${vp.height} is covered by ${await clear()}`));
    };
    await tabTo(page, '.q-approve button.approve');
    await visible('Approve reached by Tab');
    // Approve already in the viewport but just above its bottom edge, where the bar is; Shift+Tab
    // to it from Reject (the browser scrolls nothing: the button is in the viewport).
    await page.evaluate(() => {
      const b = document.querySelector('.q-approve button.approve');
      window.scrollBy(0, b.getBoundingClientRect().bottom - innerHeight + 20);
      document.querySelector('.q-approve button.reject').focus({preventScroll: true});
    });
    await page.keyboard.press('Shift+Tab');
    assert.ok(await page.evaluate(() => document.activeElement.matches('.q-approve button.approve')));
    await visible('Approve reached by Shift+Tab near the bottom edge');
    await page.context().close();
  }
  const page = await newPage(browser, PHONE);
  await signIn(page, ally, '#/history');
  const box = page.getByRole('region', {name: 'Your answers'});
  await page.locator('#history tbody tr').first().waitFor();
  assert.equal(await box.getAttribute('tabindex'), '0');
  await box.focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.querySelector('.scroll').scrollLeft > 0);
  await page.context().close();
  // Every tab of the header in view on a phone, an orchestrator's seven included.
  const top = await newPage(browser, PHONE);
  await signIn(top, ADMIN, '#/runs');
  await top.locator('h1').first().waitFor();
  const outside = await top.evaluate(() => [...document.querySelectorAll('.top nav a')]
    .filter((a) => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth; })
    .map((a) => a.textContent));
  assert.deepEqual(outside, [], 'header tabs outside a phone screen');
  await top.context().close();
});

test('annotation widgets (boxes with suggestions, audio and transcription with segments, relations): axe at both widths, every control by Tab with a visible focus', async () => {
  media = await mediaServer({'/street.png': ['image/png', street()], '/clip.wav': ['audio/wav', wav(4)]});
  const pct = ([x1, y1, x2, y2], label) => ({label, x: x1 / 6.4, y: y1 / 4, width: (x2 - x1) / 6.4, height: (y2 - y1) / 4});
  const text = 'Ann Lee works for Acme Corp.';
  await ok(ADMIN, 'PUT', '/v1/queues/a11y-annotate', {assignment: {roles: ['validator']}, schema: {
    fields: [{name: 'text', type: 'text'}, {name: 'photo', type: 'image_url'}, {name: 'recording', type: 'audio_url'}],
    questions: [{name: 'entities', type: 'spans', labels: ['PER', 'ORG'], field: 'text'},
                {name: 'links', type: 'relations', spans: 'entities', labels: ['works_for', 'knows']},
                {name: 'objects', type: 'boxes', field: 'photo', labels: ['car', 'person']},
                {name: 'said', type: 'transcription', field: 'recording'}]}});
  await ok(ADMIN, 'POST', '/v1/queues/a11y-annotate/tasks', {
    input: {text, photo: media.url + '/street.png', recording: media.url + '/clip.wav'},
    output: {objects: {boxes: [pct(SCENE.cars[0], 'car'), pct(SCENE.cars[1], 'car'), pct(SCENE.person, 'person')], image_width: 640, image_height: 400},
             said: {text: 'ann lee works for acme', segments: [{start: 0, end: 1.5, text: 'ann lee'}, {start: 1.5, end: 3, text: 'works for acme'}]}}});
  const page = await newPage(browser);
  await signIn(page, ally, '#/review/a11y-annotate');
  await shownTask(page);
  await page.waitForFunction(() => document.querySelector('.bframe img')?.naturalWidth > 0 &&
                             document.querySelector('.audiobox audio').readyState >= 1);
  const found = [...(await sweep(page, 'annotation workspace'))];
  // A box selected (handles, a moved tag), spans marked and a link made (the link list).
  await page.locator('.bstage').focus();
  await page.keyboard.press('Space');
  assert.equal(await page.locator('.bbox.sel .bh').count(), 4);
  for (const [word, key] of [['Ann Lee', '1'], ['Acme Corp', '2']]) {
    await page.locator('.spantext').focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < text.indexOf(word); i++) await page.keyboard.press('ArrowRight');
    for (let i = 0; i < word.length; i++) await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press(key);
  }
  await page.getByLabel('From entity').focus();
  await page.keyboard.press('1');
  await page.locator('.linklist li').first().waitFor();
  await page.getByLabel('Transcript of recording').fill('Ann Lee works for Acme.');
  await page.locator('.q-transcription .livediff ins').first().waitFor();
  await page.locator('.q-boxes details summary').click();
  await page.getByText('The output as the model gave it').click();   // the Suggestion panel's JSON
  await page.locator('.bstage').focus();
  await page.keyboard.press('Space');
  found.push(...(await sweep(page, 'annotation workspace, box selected, link made, transcript changed')));
  assert.deepEqual(found, [], `${found.length} serious or critical axe-core violations:\n${found.join('\n')}`);

  // Tab from the top of the page: every control of the new widgets is reached, and each has a
  // focus indicator (outline) of at least 3:1 against what is around it.
  await page.locator('#taskhead').focus();
  const want = await page.evaluate(() => {
    const all = [...document.querySelectorAll('.audiobox :is(audio, button), .bstage, .q-boxes button, main summary, ' +
      '.q-transcription :is(textarea, input, button), .q-relations :is(select, button)')];
    return all.filter((n) => n.getClientRects().length).map((n, i) => (n.dataset.tabcheck = String(i)));
  });
  const seen = new Map();
  for (let i = 0; i < 200 && seen.size < want.length; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const n = document.activeElement;
      if (!n || n.dataset.tabcheck === undefined) return null;
      const rgb = (c) => c.match(/[\d.]+/g).map(Number);
      const bg = (x) => { for (; x; x = x.parentElement) { const c = getComputedStyle(x).backgroundColor; if (rgb(c)[3] !== 0) return c; } return 'rgb(255, 255, 255)'; };
      const cs = getComputedStyle(n);
      return {id: n.dataset.tabcheck, what: n.outerHTML.slice(0, 70), visible: n.matches(':focus-visible') && cs.outlineStyle !== 'none',
              width: parseFloat(cs.outlineWidth), offset: parseFloat(cs.outlineOffset), ring: cs.outlineColor,
              around: bg(n.parentElement), self: bg(n)};
    });
    if (f && !seen.has(f.id)) seen.set(f.id, f);
  }
  const missed = await page.evaluate((ids) => [...document.querySelectorAll('[data-tabcheck]')]
    .filter((n) => !ids.includes(n.dataset.tabcheck)).map((n) => n.outerHTML.slice(0, 70)), [...seen.keys()]);
  assert.deepEqual(missed, [], 'controls Tab never reached');
  assert.ok(seen.size >= 20, `only ${seen.size} controls checked`);
  // The ring is drawn outside the control: against what is around it, and against the control's
  // own colour too unless a gap of at least 2 px parts them. The native audio element draws its
  // own focus inside its controls.
  const weak = [...seen.values()].filter((f) => !f.what.startsWith('<audio') &&
    !(f.visible && f.width >= 2 && contrast(f.ring, f.around) >= 3 && (f.offset >= 2 || contrast(f.ring, f.self) >= 3)))
    .map((f) => `${f.what}: ring ${f.ring} ${f.width}px, ${contrast(f.ring, f.around).toFixed(2)}:1 around, ${contrast(f.ring, f.self).toFixed(2)}:1 on itself`);
  assert.deepEqual(weak, [], 'focus indicators under 3:1 or not shown');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
