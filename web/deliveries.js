// SPDX-License-Identifier: MIT
// A queue's webhook deliveries, newest first, with what went wrong; Redeliver sends one again.
// shown: the webhook_secrets of a PUT's answer, the only time they are shown.
import {api, seg} from './api.js';
import {el, toast, when, scrollBox} from './util.js';

export function deliveriesPanel(name, shown) {
  const path = `/v1/queues/${seg(name)}/webhook-deliveries`;
  const state = el('select', {id: 'dstate', 'aria-label': 'Delivery state'},
    ...['all', 'pending', 'delivered', 'failed'].map((s) => el('option', {value: s, text: s})));
  const refresh = el('button', {type: 'button', id: 'drefresh', text: 'Refresh', onclick: load});
  const body = el('tbody');
  const table = el('table', {class: 'grid', id: 'deliveries'},
    el('thead', {}, el('tr', {}, ...['Event', 'State', 'Attempts', 'Last answer', 'Next attempt', 'Created', 'URL', '']
      .map((h) => el('th', {text: h})))), body);
  const empty = el('p', {class: 'hint', id: 'dempty', hidden: true, text: 'No deliveries.'});
  const again = (d) => () => api('POST', `${path}/${seg(d.id)}/redeliver`)
    .then(() => { toast(`Delivery ${d.id} will be sent again.`); load(); }, (e) => toast(e.message, 'error'));

  async function load() {
    const q = state.value === 'all' ? '' : '&state=' + state.value;
    try {
      const {deliveries} = await api('GET', `${path}?limit=50${q}`);
      body.replaceChildren(...deliveries.map((d) => el('tr', {'data-id': d.id, 'data-state': d.state},
        el('td', {}, el('code', {text: d.event_type}), ' ', el('span', {class: 'hint', text: '#' + d.event_seq})),
        el('td', {}, el('span', {class: 'pill ' + d.state, text: d.state})),
        el('td', {class: 'num', text: String(d.attempts)}),
        el('td', {class: 'lasterr', text: d.last_error || (d.last_status ? 'HTTP ' + d.last_status : '–')}),
        el('td', {text: when(d.next_attempt_at)}),
        el('td', {text: when(d.created_at)}),
        el('td', {class: 'url', text: d.url}),
        el('td', {}, d.state === 'pending' ? '' : el('button', {type: 'button', text: 'Redeliver', onclick: again(d)})))));
      empty.hidden = deliveries.length > 0;
      table.hidden = deliveries.length === 0;
    } catch (e) { toast(e.message, 'error'); }
  }
  state.addEventListener('change', load);
  load();
  return el('section', {class: 'deliveries', 'aria-labelledby': 'dtitle'},
    el('h2', {id: 'dtitle', text: 'Webhook deliveries'}),
    ...(shown || []).map((s) => el('p', {class: 'banner secret'}, `Secret of ${s.url} (shown once): `,
      el('code', {class: 'whsec', text: s.secret}))),
    el('div', {class: 'row'}, state, refresh),
    scrollBox('Webhook deliveries', table), empty);
}
