// SPDX-License-Identifier: MIT
// Annotation beyond text in a real browser: boxes by mouse, keyboard and touch, transcription
// with the audio keys, relations between entities, and the speed of a task with 50 boxes.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {ADMIN, ok, tokens, launch, newPage, signIn, shot, shownTask, nextTask, decided, report, timeAnswers} from './lib.mjs';
import {SCENE, street, wav, mediaServer} from './media.mjs';

let browser, T, media, photo, clip;
const annotate = {roles: ['annotator']};
const boxesQueue = {schema: {fields: [{name: 'photo', type: 'image_url'}],
  questions: [{name: 'objects', type: 'boxes', field: 'photo', labels: ['car', 'person']}]}, assignment: annotate};
// The scene's objects in percent of the image, as a model would suggest them.
const pct = ([x1, y1, x2, y2], label) => ({label, x: x1 / 6.4, y: y1 / 4, width: (x2 - x1) / 6.4, height: (y2 - y1) / 4});

before(async () => {
  browser = await launch();
  T = tokens();
  media = await mediaServer({'/street.png': ['image/png', street()], '/clip.wav': ['audio/wav', wav(12)]});
  photo = media.url + '/street.png';
  clip = media.url + '/clip.wav';
});
after(async () => { await browser?.close(); await media?.close(); });

// Makes queue name with config and submits tasks to it.
async function queueWith(name, config, tasks) {
  await ok(ADMIN, 'PUT', `/v1/queues/${name}`, config);
  await ok(T.agent, 'POST', `/v1/queues/${name}/tasks/batch`, {tasks});
}

// Waits for the workspace to have nothing more to show (the queue's one task was answered).
const idle = (page) => page.getByText('Nothing to review right now').waitFor();

// Sets the single-character keys setting (on, alt, off) in the Keys dialog.
async function keysSetting(page, value) {
  await page.getByRole('button', {name: /^Keys/}).click();
  await page.getByLabel('Single-character keys').selectOption(value);
  await page.getByRole('button', {name: 'Close'}).click();
}

// Marks word (its first place in text) with the keyboard and gives it label number key.
async function markSpan(page, text, word, key) {
  await page.locator('.spantext').focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < text.indexOf(word); i++) await page.keyboard.press('ArrowRight');
  for (let i = 0; i < word.length; i++) await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press(key);
}

// Waits for the image of the boxes question; resolves to its box on the page.
async function image(page) {
  const img = page.locator('.bframe img');
  await page.waitForFunction(() => document.querySelector('.bframe img')?.naturalWidth > 0);
  return img.boundingBox();
}

const close = (got, want, what) => {
  for (const k of Object.keys(want)) {
    if (typeof want[k] === 'number') assert.ok(Math.abs(got[k] - want[k]) <= 0.5, `${what}.${k}: ${got[k]}, want ${want[k]}`);
    else assert.equal(got[k], want[k], `${what}.${k}`);
  }
};

test('boxes: draw one by mouse drag, resize it by its handle; the answer is in percent of the image, with its natural size', async () => {
  await queueWith('boxes-draw', boxesQueue, [{input: {photo}}]);
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/boxes-draw');
  const id = await shownTask(page);
  const r = await image(page);
  await page.keyboard.press('2');                       // new boxes get "person"
  const [x1, y1, x2, y2] = SCENE.person;
  await page.mouse.move(r.x + r.width * x1 / 640, r.y + r.height * y1 / 400);
  await page.mouse.down();
  await page.mouse.move(r.x + r.width * (x2 - 30) / 640, r.y + r.height * (y2 - 40) / 400, {steps: 6});
  await page.mouse.up();
  await page.locator('.boxlist li', {hasText: '1. person'}).waitFor();
  assert.equal(await page.locator('.bbox').count(), 1);
  // Too small: its bottom right handle is dragged 30 and 40 pixels of the image further.
  const h = await page.locator('.bbox.sel .bh.se').boundingBox();
  await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
  await page.mouse.down();
  await page.mouse.move(h.x + h.width / 2 + r.width * 30 / 640, h.y + h.height / 2 + r.height * 40 / 400, {steps: 4});
  await page.mouse.up();
  await page.keyboard.press('Enter');
  await idle(page);
  const t = await decided(id);
  const v = t.decision.answers.objects.value;
  assert.equal(t.decision.answers.objects.kind, 'boxes');
  assert.equal(v.image_width, 640);
  assert.equal(v.image_height, 400);
  assert.equal(v.boxes.length, 1);
  close(v.boxes[0], pct(SCENE.person, 'person'), 'boxes[0]');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('boxes: the model\'s boxes are suggestions to adjust, accept or delete with the keyboard', async () => {
  // The first car's box is off (9.375, 62.5, 26.5625 x 20 would fit), the second "car" is sky.
  const suggested = [{label: 'car', x: 4.375, y: 61.5, width: 25.5625, height: 15},
                     {label: 'car', x: 70, y: 10, width: 20, height: 15}, pct(SCENE.person, 'person')];
  await queueWith('boxes-suggested', boxesQueue,
    [{input: {photo}, output: {boxes: suggested, image_width: 640, image_height: 400}, confidence: 0.6}]);
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/boxes-suggested');
  const id = await shownTask(page);
  await image(page);
  assert.equal(await page.locator('.bbox.sugg').count(), 3);
  const url = page.url();
  await page.locator('.bstage').focus();
  await page.keyboard.press('Space');                   // box 1, the first car: a little off
  await page.keyboard.press('Shift+ArrowRight');        // x + 5
  await page.keyboard.press('ArrowDown');               // y + 0.5, twice
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Alt+ArrowRight');          // width + 0.5, twice
  await page.keyboard.press('Alt+ArrowRight');
  await page.keyboard.press('Alt+Shift+ArrowDown');     // height + 5
  assert.match(await page.locator('.bstatus').innerText(), /Box 1 of 3: car, at 9\.38 %, 62\.5 %, 26\.56 by 20 %/);
  await page.keyboard.press('Space');                   // box 2: a car that is not there
  await page.keyboard.press('Space');                   // box 3: the person, right: accept it
  await page.keyboard.press('y');
  assert.equal(await page.locator('.bbox.sugg').count(), 1);
  await page.keyboard.press('Shift+Space');             // back to box 2
  await shot(page, 'workspace-boxes');
  await page.keyboard.press('Delete');
  assert.equal(await page.locator('.bbox').count(), 2);
  await page.keyboard.press('b');                       // a new box in the middle, labelled car
  await page.keyboard.press('2');                       // person
  await page.keyboard.press('l');                       // and round to car again
  await page.keyboard.press('Escape');
  assert.equal(page.url(), url, 'Alt+arrows did not navigate');
  await page.keyboard.press('Enter');
  await idle(page);
  const v = (await decided(id)).decision.answers.objects.value;
  // The first car moved and resized onto the car (kept to 0.01 %).
  assert.deepEqual(v.boxes, [{label: 'car', x: 9.38, y: 62.5, width: 26.56, height: 20},
    suggested[2], {label: 'car', x: 40, y: 40, width: 20, height: 20}]);
  assert.deepEqual([v.image_width, v.image_height], [640, 400]);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('transcription: the audio keys play, pause, go back 5 s and change the speed; the corrected text is stored', async () => {
  const said = {text: 'the quick brown fox jumps', segments: [{start: 0, end: 1.5, text: 'the quick'}, {start: 1.5, end: 3, text: 'brown fox jumps'}]};
  await queueWith('speech', {schema: {fields: [{name: 'recording', type: 'audio_url'}],
    questions: [{name: 'said', type: 'transcription', field: 'recording'}]}, assignment: annotate},
  [{input: {recording: clip}, output: said, model_version: 'asr-1'}]);
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/speech');
  const id = await shownTask(page);
  const audio = (f) => page.evaluate(f, null);
  // The audio comes from another origin: the page's Content-Security-Policy lets it load.
  await page.waitForFunction(() => document.querySelector('.audiobox audio').readyState >= 1);
  const editor = page.getByLabel('Transcript of recording');
  assert.equal(await editor.inputValue(), said.text);
  // The audio keys are Alt+ keys: with the single letters off they still work, and show as they are.
  await keysSetting(page, 'off');
  const hint = page.locator('.audiobox kbd').first();
  assert.equal(await hint.isVisible(), true);
  assert.equal(await hint.evaluate((k) => k.textContent + getComputedStyle(k, '::before').content), 'Alt+Pnone');
  await editor.focus();                                 // the keys work while typing
  await page.keyboard.press('Alt+p');
  await page.waitForFunction(() => { const a = document.querySelector('.audiobox audio'); return !a.paused && a.currentTime > 0.2; });
  assert.match(await page.locator('.audiobox button').first().innerText(), /Pause/);
  for (let i = 0; i < 2; i++) await page.keyboard.press('Alt+.');
  assert.equal(await audio(() => document.querySelector('.audiobox audio').playbackRate), 1.5);
  for (let i = 0; i < 5; i++) await page.keyboard.press('Alt+,');
  assert.equal(await audio(() => document.querySelector('.audiobox audio').playbackRate), 0.5);
  await page.locator('.audiobox .rate', {hasText: 'Speed 0.5×'}).waitFor(); // on ratechange, a task later
  await page.keyboard.press('Alt+p');
  await page.waitForFunction(() => document.querySelector('.audiobox audio').paused);
  // Back 5 s from 7 s (as if the reviewer had clicked the timeline there), and again to 0.
  await audio(() => new Promise((r) => { const a = document.querySelector('.audiobox audio'); a.onseeked = r; a.currentTime = 7; }));
  await page.keyboard.press('Alt+b');
  assert.ok(Math.abs(await audio(() => document.querySelector('.audiobox audio').currentTime) - 2) < 0.05);
  await page.keyboard.press('Alt+b');
  assert.equal(await audio(() => document.querySelector('.audiobox audio').currentTime), 0);
  assert.equal(await editor.inputValue(), said.text, 'the audio keys typed nothing');
  // Correct a word; the diff against the suggestion shows it. Move a segment's end.
  await editor.press('End');
  for (let i = 0; i < 'jumps'.length; i++) await editor.press('Backspace');
  await editor.pressSequentially('leaps');
  await page.locator('.q-transcription .livediff ins', {hasText: 'leaps'}).waitFor();
  await page.getByLabel('End of segment 2, seconds').fill('3.4');
  await page.getByLabel('Text of segment 2').fill('brown fox leaps');
  await keysSetting(page, 'on');
  await shot(page, 'workspace-transcription');
  await page.keyboard.press('Control+Enter');
  await idle(page);
  const t = await decided(id);
  assert.deepEqual(t.decision.answers.said, {kind: 'transcription', value: {text: 'the quick brown fox leaps',
    segments: [{start: 0, end: 1.5, text: 'the quick'}, {start: 1.5, end: 3.4, text: 'brown fox leaps'}]}});
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('relations: link two entities with a label; deleting a span drops its links and renumbers the rest', async () => {
  const text = 'Ann Lee works for Acme Corp and knows Bob Stone.';
  await queueWith('links', {schema: {fields: [{name: 'text', type: 'text'}],
    questions: [{name: 'entities', type: 'spans', labels: ['PER', 'ORG'], field: 'text'},
                {name: 'rel', type: 'relations', spans: 'entities', labels: ['works_for', 'knows']}]}, assignment: annotate},
  [{input: {text}}]);
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/links');
  const id = await shownTask(page);
  const mark = (word, key) => markSpan(page, text, word, key);
  const from = page.getByLabel('From entity'), to = page.getByLabel('To entity');
  const link = async (a, b, key) => {
    await from.focus();
    await from.selectOption({index: a});
    await to.selectOption({index: b});
    await page.keyboard.press(key);
  };
  await mark('Ann Lee', '1');
  await mark('Acme Corp', '2');
  await mark('Bob Stone', '1');
  await link(0, 1, '1');                                // Ann works_for Acme
  await link(0, 2, '2');                                // Ann knows Bob
  await link(2, 1, '1');                                // Bob works_for Acme
  await link(2, 1, '1');                                // again: refused
  await page.getByText('That link is there already.').waitFor();
  await link(2, 0, '2');                                // Bob knows Ann, then deleted with its button
  await page.getByRole('button', {name: /^Delete link 4:/}).click();
  assert.equal(await page.locator('.linklist li').count(), 3);
  // Acme Corp goes (Delete with the cursor in it): both links to it go too; Bob is now entity 2.
  await page.locator('.spantext').focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Delete');
  assert.deepEqual((await page.locator('.linklist li').allInnerTexts()).map((x) => x.replace(/\s*×$/, '')),
                   ['“Ann Lee” (PER) → knows → “Bob Stone” (PER)']);
  assert.equal(await to.locator('option').count(), 2);
  await mark('Acme Corp', '2');                         // back, as entity 2 of 3: digits go to the text again
  // With the single letters behind Alt, a number in a select links only with Alt held.
  await keysSetting(page, 'alt');
  await link(0, 1, '1');
  assert.equal(await page.locator('.linklist li').count(), 1);
  await page.keyboard.press('Alt+1');
  await keysSetting(page, 'on');
  await shot(page, 'workspace-relations');
  await page.keyboard.press('Control+Enter');         // the focus is in a select
  await idle(page);
  const a = (await decided(id)).decision.answers;
  assert.deepEqual(a.entities.value, [{start: 0, end: 7, label: 'PER'}, {start: 18, end: 27, label: 'ORG'},
                                      {start: 38, end: 47, label: 'PER'}]);
  assert.deepEqual(a.rel, {kind: 'relations', value: [{from: 0, to: 2, label: 'knows'}, {from: 0, to: 1, label: 'works_for'}]});
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('all four in one task (the example schema of docs/queues.md): one body, suggestions read from output[question]', async () => {
  const text = 'Ann works at Acme.';
  await queueWith('annotate-all', {schema: {
    fields: [{name: 'text', type: 'text'}, {name: 'photo', type: 'image_url'}, {name: 'recording', type: 'audio_url'}],
    questions: [{name: 'entities', type: 'spans', labels: ['PER', 'ORG'], field: 'text'},
                {name: 'links', type: 'relations', spans: 'entities', labels: ['works_for']},
                {name: 'objects', type: 'boxes', field: 'photo', labels: ['car', 'person']},
                {name: 'said', type: 'transcription', field: 'recording'}]}, assignment: annotate},
  [{input: {text, photo, recording: clip},
    output: {objects: {boxes: [pct(SCENE.person, 'person')], image_width: 640, image_height: 400}, said: 'Ann works at Acme'}}]);
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/annotate-all');
  const id = await shownTask(page);
  await image(page);
  assert.equal(await page.locator('.bbox.sugg').count(), 1);
  assert.equal(await page.getByLabel('Transcript of recording').inputValue(), 'Ann works at Acme');
  await markSpan(page, text, 'Ann', '1');
  await markSpan(page, text, 'Acme', '2');
  await page.getByLabel('From entity').focus();
  await page.keyboard.press('1');                       // Ann works_for Acme (the lists start at 1 and 2)
  await page.locator('.bstage').focus();
  await page.keyboard.press('Space');
  await page.keyboard.press('y');                       // the suggested person is right
  const editor = page.getByLabel('Transcript of recording');
  await editor.focus();
  await page.keyboard.press('End');
  await page.keyboard.type('.');
  await page.keyboard.press('Control+Enter');
  await idle(page);
  const a = (await decided(id)).decision.answers;
  assert.deepEqual(a.entities.value, [{start: 0, end: 3, label: 'PER'}, {start: 13, end: 17, label: 'ORG'}]);
  assert.deepEqual(a.links.value, [{from: 0, to: 1, label: 'works_for'}]);
  assert.deepEqual(a.objects.value, {boxes: [pct(SCENE.person, 'person')], image_width: 640, image_height: 400});
  assert.deepEqual(a.said.value, {text: 'Ann works at Acme.'});
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('boxes on a 390 px phone: draw, move and relabel by touch', async () => {
  await queueWith('boxes-phone', boxesQueue, [{input: {photo}}]);
  const page = await newPage(browser, {width: 390, height: 844}, {hasTouch: true, isMobile: true});
  await signIn(page, T.alice, '#/review/boxes-phone');
  const id = await shownTask(page);
  const r = await image(page);
  const cdp = await page.context().newCDPSession(page);
  // A finger's drag: 6 moves 50 ms apart, then held still 200 ms before it lifts (in the events'
  // timestamps; sent at once, the lift would be a fling, and Chrome drops the click of the next
  // tap to stop it).
  const drag = async (ax, ay, bx, by) => {
    const pt = (x, y) => [{x: r.x + r.width * x / 640, y: r.y + r.height * y / 400}];
    const t0 = Date.now() / 1000 - 1;
    const touch = (type, touchPoints, dt) => cdp.send('Input.dispatchTouchEvent', {type, touchPoints, timestamp: t0 + dt});
    await touch('touchStart', pt(ax, ay), 0);
    for (let i = 1; i <= 6; i++) await touch('touchMove', pt(ax + (bx - ax) * i / 6, ay + (by - ay) * i / 6), i * 0.05);
    await touch('touchMove', pt(bx, by), 0.5);
    await touch('touchEnd', [], 0.55);
  };
  const [x1, y1, x2, y2] = SCENE.cars[1];
  await drag(x1 - 40, y1 - 30, x2 - 40, y2 - 30);       // drawn a little up and left of the car
  await page.locator('.boxlist li', {hasText: '1. car'}).waitFor();
  await drag((x1 + x2) / 2 - 40, (y1 + y2) / 2 - 30, (x1 + x2) / 2, (y1 + y2) / 2); // moved onto it
  // The labels are buttons to tap: the selected box becomes a person, and a car again.
  const chip = (l) => page.locator('.q-boxes .legend button', {hasText: l});
  await chip('person').tap();
  await page.locator('.boxlist li', {hasText: '1. person'}).waitFor();
  assert.equal(await chip('person').getAttribute('aria-pressed'), 'true');
  await chip('car').tap();
  await page.locator('.boxlist li', {hasText: '1. car'}).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, 'no sideways scrolling');
  await shot(page, 'phone-boxes');
  await page.click('#submit');
  await idle(page);
  const v = (await decided(id)).decision.answers.objects.value;
  assert.equal(v.boxes.length, 1);
  close(v.boxes[0], pct(SCENE.cars[1], 'car'), 'boxes[0]');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('speed: answer to next task interactive with 50 suggested boxes', async () => {
  const grid = Array.from({length: 50}, (_, i) => ({label: i % 3 ? 'car' : 'person', x: (i % 10) * 10 + 1, y: Math.floor(i / 10) * 20 + 2, width: 8, height: 16}));
  await queueWith('boxes-bench', boxesQueue,
    Array.from({length: 8}, () => ({input: {photo}, output: {boxes: grid, image_width: 640, image_height: 400}})));
  const page = await newPage(browser);
  await signIn(page, T.alice, '#/review/boxes-bench');
  let id = await shownTask(page);
  await timeAnswers(page);
  const ids = [id];
  for (let i = 0; i < 6; i++) {
    await image(page);
    assert.equal(await page.locator('.bbox').count(), 50);
    // Waits for the next task to be claimed ahead, as a reviewer's few seconds per task would.
    await page.waitForFunction(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/claim')).length >= 2 + (window.hitlT || []).length);
    await page.keyboard.press('Enter');
    id = await nextTask(page, id);
    ids.push(id);
  }
  const times = await page.evaluate(() => window.hitlT);
  assert.equal(times.length, 6);
  const sorted = [...times].sort((a, b) => a - b);
  report(`ui answer->next task interactive, image task with 50 suggested boxes (prefetched, ${times.length} answers): median ${sorted[sorted.length >> 1].toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`);
  assert.ok(sorted[sorted.length >> 1] < 50, 'the next task is interactive in under 50 ms');
  const first = (await decided(ids[0])).decision.answers.objects.value;
  assert.equal(first.boxes.length, 50);
  assert.deepEqual(first.boxes[7], grid[7]);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
