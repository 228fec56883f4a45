// The centre: open tickets with SLA countdowns, filtered by building, kind, status and a search.

import { ACTIVE_STATUSES, TICKET_KINDS } from './config.js';
import { age, countdown } from './countdown.js';
import { $, h, replace } from './dom.js';
import { keepFocus } from './focus.js';
import { t } from './i18n.js';
import {
  assigneeLabel, buildingLabel, kindLabel, placeLabel, severityLabel, statusLabel, titleLabel, typeLabel,
} from './labels.js';
import { nextClock } from './sla.js';
import * as store from './store.js';
import { fmtWhen, parseTime } from './time.js';

const filters = { building: '', kind: '', status: '', search: '' };
let openTicket = () => {};
let selectedId = null;

export function initTickets({ onOpen }) {
  openTicket = onOpen;
  const form = $('#ticket-filters');
  form.addEventListener('input', () => {
    filters.building = $('#filter-building').value;
    filters.kind = $('#filter-kind').value;
    filters.status = $('#filter-status').value;
    filters.search = $('#filter-search').value.trim().toLowerCase();
    renderTickets();
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  $('#ticket-rows').addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-ticket-id]');
    if (row) openTicket(Number(row.dataset.ticketId));
  });
  $('#ticket-rows').addEventListener('keydown', (event) => {
    const row = event.target.closest('tr[data-ticket-id]');
    if (row && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      openTicket(Number(row.dataset.ticketId));
    }
  });
}

export function setSelected(id) {
  selectedId = id;
  for (const row of document.querySelectorAll('#ticket-rows tr[data-ticket-id]')) {
    row.setAttribute('aria-selected', String(Number(row.dataset.ticketId) === id));
  }
}

/** Fill the filter selects (after a language switch, or when a new building shows up). */
export function fillFilterOptions(buildings) {
  fillSelect($('#filter-building'), [['', t('filters.all_buildings')], ...buildings.map((b) => [b, buildingLabel(b)])]);
  fillSelect($('#filter-kind'), [['', t('filters.all_kinds')], ...TICKET_KINDS.map((k) => [k, kindLabel(k)])]);
  fillSelect($('#filter-status'), [['', t('filters.all_open')], ...ACTIVE_STATUSES.map((s) => [s, statusLabel(s)])]);
}

export function fillSelect(select, options) {
  const value = select.value;
  replace(select, options.map(([v, label]) => h('option', { value: v }, label)));
  if (options.some(([v]) => v === value)) select.value = value;
}

function matches(ticket) {
  if (filters.building && ticket.building !== filters.building) return false;
  if (filters.kind && ticket.kind !== filters.kind) return false;
  if (filters.status && ticket.status !== filters.status) return false;
  if (filters.search) {
    const haystack = [ticket.id, ticket.title, titleLabel(ticket), ticket.description, ticket.unit, ticket.device, ticket.building,
      ticket.requester_name, ticket.requester_phone, typeLabel(ticket), placeLabel(ticket), ticket.assignee_name]
      .filter(Boolean).join(' ').toLowerCase();
    if (!haystack.includes(filters.search)) return false;
  }
  return true;
}

// Nearest deadline first (stable as the seconds pass); tickets without one last, newest first.
function byUrgency(a, b) {
  const now = Date.now();
  const da = nextClock(a, now);
  const db = nextClock(b, now);
  if (da && db && da.due !== db.due) return da.due - db.due;
  if (da && !db) return -1;
  if (db && !da) return 1;
  return store.bySeverityThenAge(a, b);
}

export function renderTickets() {
  const body = $('#ticket-rows');
  const active = store.activeTickets();
  const shown = active.filter(matches).sort(byUrgency);
  keepFocus(body, () => replace(body, shown.map(row)));
  $('#tickets-empty').hidden = shown.length > 0;
  $('#tickets-empty').textContent = active.length ? t('tickets.none_match') : t('tickets.none');
  $('#ticket-count').textContent = String(active.length);
}

function row(ticket) {
  return h('tr', {
    tabindex: '0', 'data-focus-key': `row-${ticket.id}`, class: `sev-row-${ticket.severity}`,
    dataset: { ticketId: ticket.id, status: ticket.status, severity: ticket.severity },
    'aria-selected': String(ticket.id === selectedId),
  },
  h('td', {}, h('span', { class: `sev sev-${ticket.severity}` }, severityLabel(ticket.severity))),
  h('td', { class: 'num' }, `#${ticket.id}`),
  h('td', {}, typeLabel(ticket)),
  h('td', { class: 'title-cell' }, titleLabel(ticket),
    ticket.requester_name ? h('span', { class: 'sub' }, ticket.requester_name) : null),
  h('td', {}, placeLabel(ticket)),
  h('td', {}, h('span', { class: `status status-${ticket.status}` }, statusLabel(ticket.status)),
    ticket.delay_announced_at ? h('span', { class: 'badge' }, t('tickets.delay_announced')) : null,
    ticket.escalation_level ? h('span', { class: 'badge escalated' }, t('tickets.escalated', { n: ticket.escalation_level })) : null),
  h('td', {}, assigneeLabel(ticket) || h('span', { class: 'muted' }, t('tickets.unassigned'))),
  h('td', { class: 'num' }, fmtWhen(parseTime(ticket.opened_at)), h('span', { class: 'sub' }, age(ticket.opened_at))),
  h('td', { class: 'sla-cell' }, countdown(ticket)));
}
