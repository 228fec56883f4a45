// SLA countdown elements, refreshed every second without re-rendering the lists around them.

import { h } from './dom.js';
import { t } from './i18n.js';
import { clockLabel } from './labels.js';
import { nextClock } from './sla.js';
import { fmtAgo, fmtDuration } from './time.js';
import * as store from './store.js';

/** <span class="sla" data-sla-state="ok|amber|red" data-sla-clock="on_site">到场 14:32</span> */
export function countdown(ticket) {
  const el = h('span', { class: 'sla', dataset: { ticketId: ticket.id } });
  fillCountdown(el, ticket, Date.now());
  return el;
}

/** Fill a countdown element for any ticket-shaped object (the report pages use it without the store). */
export function fillCountdown(el, ticket, now = Date.now()) {
  const next = nextClock(ticket, now);
  if (!next) {
    el.dataset.slaState = 'none';
    delete el.dataset.slaClock;
    delete el.dataset.remainingS;
    el.textContent = t('sla.none');
    el.title = '';
    return;
  }
  el.dataset.slaState = next.state;
  el.dataset.slaClock = next.clock;
  el.dataset.remainingS = String(Math.round(next.remaining));
  const time = fmtDuration(next.remaining);
  el.textContent = next.remaining < 0
    ? t('sla.overdue_by', { clock: clockLabel(next.clock), time })
    : t('sla.left', { clock: clockLabel(next.clock), time });
  el.title = t(`sla.state.${next.state}`);
}

/** <span class="age" data-since="...">3 分钟前</span> */
export function age(iso) {
  const el = h('span', { class: 'age', dataset: { since: iso || '' } });
  el.textContent = fmtAgo(iso);
  return el;
}

export function refreshAll(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('.sla[data-ticket-id]')) {
    const ticket = store.ticket(Number(el.dataset.ticketId));
    if (ticket) fillCountdown(el, ticket, now);
  }
  for (const el of root.querySelectorAll('.age[data-since]')) {
    if (el.dataset.since) el.textContent = fmtAgo(el.dataset.since, now);
  }
}
