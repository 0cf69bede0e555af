// SPDX-License-Identifier: MIT
// Runs: every agent run live, the approvals it waits on, and (orchestrators) its commands.
import {api, seg} from './api.js';
import {el, toast, when, scrollBox} from './util.js';

const LIVE = ['running', 'waiting', 'paused', 'lost'];

export function mount(root, ctx) {
  const body = el('tbody');
  const empty = el('p', {class: 'hint', id: 'rempty', hidden: true, text: 'No runs yet: agents register them with POST /v1/runs.'});
  const heads = ['State', 'Agent', 'Goal', 'Last heartbeat', 'Steps', 'Waiting on people'].concat(ctx.isOrch ? ['Commands'] : []);
  root.replaceChildren(el('div', {class: 'page wide'}, el('h1', {text: 'Runs'}),
    scrollBox('Runs', el('table', {class: 'grid', id: 'runs'},
      el('thead', {}, el('tr', {}, heads.map((h) => el('th', {text: h})))), body)), empty));

  async function command(r, type, goal) {
    try {
      await api('POST', `/v1/runs/${seg(r.id)}/commands`, goal ? {type, goal} : {type});
      toast(`${type} sent to ${r.agent}`);
    } catch (e) { toast(e.message, 'error'); }
    load();
  }

  function controls(r) {
    const over = !LIVE.includes(r.state);
    const b = (type, ok) => el('button', {type: 'button', 'data-cmd': type, disabled: !ok, onclick: () => command(r, type), text: type});
    const goal = el('input', {type: 'text', 'aria-label': 'New goal for ' + r.agent, placeholder: 'new goal', disabled: over});
    const set = el('button', {type: 'button', 'data-cmd': 'goal', disabled: over, text: 'set goal',
      onclick: () => { if (goal.value.trim()) command(r, 'goal', goal.value.trim()); }});
    return el('td', {}, el('div', {class: 'row'}, b('pause', r.state === 'running' || r.state === 'waiting'),
      b('resume', r.state === 'paused'), b('stop', !over), goal, set));
  }

  function row(r) {
    const step = r.steps && r.steps[0];
    const tasks = (r.tasks || []).map((t) => el('div', {},
      el('a', {href: '#/review/' + seg(t.queue), class: 'tasklink', text: t.queue}), ' ',
      ctx.isOrch ? el('a', {href: '#/audit/task/' + seg(t.id)}, el('code', {text: t.id})) : el('code', {text: t.id})));
    const unacked = r.pending_commands ? ` (${r.pending_commands} not acknowledged)` : '';
    return el('tr', {'data-id': r.id, 'data-state': r.state},
      el('td', {}, el('span', {class: 'pill ' + r.state, text: r.state}), el('span', {class: 'hint', text: unacked})),
      el('td', {}, r.agent, el('div', {class: 'hint'}, el('code', {text: r.id}))),
      el('td', {class: 'goal', text: r.goal || '–'}),
      el('td', {text: when(r.last_heartbeat_at)}),
      el('td', {}, el('span', {class: 'num', text: String(r.step_count)}), step ? el('div', {class: 'hint', text: step.text}) : null),
      el('td', {}, tasks.length ? tasks : '–'),
      ctx.isOrch ? controls(r) : null);
  }

  async function load() {
    if (body.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return;
    try {
      const {runs} = await api('GET', '/v1/runs?limit=100');
      // Live runs with their latest step and open tasks; finished ones as listed.
      const full = await Promise.all(runs.map((r) => (LIVE.includes(r.state) ? api('GET', '/v1/runs/' + seg(r.id)) : r)));
      body.replaceChildren(...full.map(row));
      empty.hidden = full.length > 0;
    } catch (e) { toast(e.message, 'error'); }
  }
  load();
  const timer = setInterval(load, 2000);
  return () => clearInterval(timer);
}
