// The left column: active alarms, critical first; unacknowledged critical ones flash (and ring).

import { act } from './api.js';
import { age, countdown } from './countdown.js';
import { $, h, replace } from './dom.js';
import { keepFocus } from './focus.js';
import { errorText } from './errors.js';
import { t } from './i18n.js';
import { assigneeLabel, placeLabel, severityLabel, statusLabel, titleLabel, typeLabel } from './labels.js';
import * as store from './store.js';

const errors = new Map();  // ticket id → {message, updatedAt} of a refused acknowledge
const busy = new Set();
let openTicket = () => {};

export function initAlarms({ onOpen }) {
  openTicket = onOpen;
}

export function renderAlarms() {
  const list = $('#alarm-list');
  const alarms = store.allTickets().filter(store.isAlarm).sort(store.bySeverityThenAge);
  keepFocus(list, () => replace(list, alarms.map(card)));
  $('#alarm-empty').hidden = alarms.length > 0;
  const ringing = alarms.filter(store.isRinging).length;
  const count = $('#alarm-count');
  count.textContent = alarms.length ? String(alarms.length) : '';
  count.dataset.ringing = ringing ? 'true' : 'false';
  return { alarms: alarms.length, ringing };
}

function card(ticket) {
  const ringing = store.isRinging(ticket);
  const classes = ['alarm', `sev-${ticket.severity}`];
  if (ringing) classes.push('ringing');
  const ack = ticket.status === 'new'
    ? h('button', { type: 'button', class: 'btn ack', 'data-focus-key': `ack-${ticket.id}`, disabled: busy.has(ticket.id),
      onclick: (event) => { event.stopPropagation(); acknowledge(ticket.id); } }, t('actions.acknowledge'))
    : null;
  const who = ticket.assignee_id ? h('span', { class: 'assignee' }, t('alarms.assigned_to', { name: assigneeLabel(ticket) })) : null;
  return h('li', {
    class: classes.join(' '),
    dataset: { ticketId: ticket.id, severity: ticket.severity, status: ticket.status },
    'aria-label': t('alarms.card_label', { type: typeLabel(ticket), place: placeLabel(ticket), status: statusLabel(ticket.status) }),
  },
  h('div', { class: 'alarm-head' },
    h('span', { class: `sev sev-${ticket.severity}` }, severityLabel(ticket.severity)),
    h('span', { class: 'alarm-type' }, typeLabel(ticket)),
    ticket.occurrences > 1 ? h('span', { class: 'occurrences', title: t('alarms.occurrences') }, `×${ticket.occurrences}`) : null,
    age(ticket.opened_at)),
  h('div', { class: 'alarm-place' }, placeLabel(ticket)),
  h('div', { class: 'alarm-title' }, titleLabel(ticket)),
  h('div', { class: 'alarm-meta' },
    h('span', { class: `status status-${ticket.status}` }, statusLabel(ticket.status)),
    countdown(ticket),
    who),
  // A refusal stays until the ticket moves on (the stream then shows what the other desk did).
  errors.has(ticket.id) && errors.get(ticket.id).updatedAt === ticket.updated_at
    ? h('p', { class: 'inline-error', role: 'alert' }, errors.get(ticket.id).message) : null,
  h('div', { class: 'alarm-actions' },
    ack,
    h('button', { type: 'button', class: 'btn secondary', 'data-focus-key': `open-${ticket.id}`,
      onclick: (event) => { event.stopPropagation(); openTicket(ticket.id); } }, t('alarms.open'))));
}

async function acknowledge(id) {
  errors.delete(id);
  busy.add(id);
  renderAlarms();
  try {
    store.upsertTicket(await act(id, 'acknowledge'));
  } catch (error) {
    const ticket = store.ticket(id);
    errors.set(id, { message: errorText(error), updatedAt: ticket ? ticket.updated_at : null });
  } finally {
    busy.delete(id);
    renderAlarms();
  }
}

export function bindAlarmClicks() {
  $('#alarm-list').addEventListener('click', (event) => {
    const item = event.target.closest('li[data-ticket-id]');
    if (item) openTicket(Number(item.dataset.ticketId));
  });
}
