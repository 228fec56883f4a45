// The drawer's reading part: the ticket's facts and deadlines, and its timeline from the audit
// trail, newest first, with people by name (the audit's actor_name, the detail's staff_names).

import { h } from './dom.js';
import { t, tMaybe } from './i18n.js';
import {
  actionLabel, assigneeLabel, buildingLabel, classLabel, clockLabel, departmentLabel, kindLabel, personLabel,
  sourceLabel, typeLabel, unitLabel,
} from './labels.js';
import { CLOCKS, metAt } from './sla.js';
import { fmtDeadline, fmtWhenFull } from './time.js';

function fact(label, ...value) {
  const values = value.flat().filter((v) => v !== null && v !== undefined && v !== '');
  if (!values.length) return null;
  return [h('dt', {}, label), h('dd', {}, values)];
}

function when(iso) {
  return iso ? fmtWhenFull(iso) : null;
}

export function facts(ticket) {
  const phone = ticket.requester_phone
    ? h('a', { href: `tel:${ticket.requester_phone.replace(/[^0-9+]/g, '')}`, class: 'phone' }, ticket.requester_phone) : null;
  const context = Object.entries(ticket.context || {})
    .filter(([key]) => !['event_id', 'floor'].includes(key))
    .map(([key, value]) => `${tMaybe(`context.${key}`) || key}: ${typeof value === 'object' ? JSON.stringify(value) : value}`);
  const dues = CLOCKS.filter(([, due]) => ticket[due]).map(([clock, due, metFields]) => {
    const met = metAt(ticket, metFields);
    return h('li', { class: met ? 'done' : '' },
      h('span', {}, clockLabel(clock)), ' ', h('span', { class: 'num' }, fmtDeadline(ticket[due])),
      met ? h('span', { class: 'badge ok' }, t('sla.met_at', { time: fmtWhenFull(met) })) : null);
  });
  return h('dl', { class: 'facts' },
    fact(t('fields.kind'), kindLabel(ticket.kind), ticket.type !== ticket.kind ? ` (${typeLabel(ticket)})` : null),
    fact(t('fields.source'), sourceLabel(ticket.source)),
    fact(t('fields.building'), buildingLabel(ticket.building)),
    fact(t('fields.unit'), ticket.unit ? unitLabel(ticket.unit, ticket.building) : null),
    fact(t('fields.device'), ticket.device),
    fact(t('fields.requester'), ticket.requester_name, ticket.requester_name && phone ? ' · ' : null, phone),
    fact(t('fields.description'), ticket.description),
    fact(t('fields.needs_on_site'), ticket.needs_on_site ? t('common.yes') : null),
    fact(t('fields.first_receiver'), ticket.first_receiver_name),
    fact(t('fields.opened_at'), when(ticket.opened_at)),
    fact(t('fields.acknowledged_at'), when(ticket.acknowledged_at)),
    fact(t('fields.assignee'), ...(assigneeLabel(ticket) ? [h('span', { class: 'assignee-name' }, assigneeLabel(ticket)),
      ticket.dispatched_at ? ` · ${fmtWhenFull(ticket.dispatched_at)}` : null] : [])),
    fact(t('fields.on_site_at'), when(ticket.on_site_at)),
    fact(t('fields.resolved_at'), when(ticket.resolved_at)),
    fact(t('fields.resolution_note'), ticket.resolution_note),
    fact(t('fields.department'), ticket.department ? departmentLabel(ticket.department) : null,
      ticket.handed_to_department_at ? ` · ${fmtWhenFull(ticket.handed_to_department_at)}` : null),
    fact(t('fields.classification'), ticket.classification
      ? h('span', { class: 'classification', dataset: { value: ticket.classification } }, classLabel(ticket.classification)) : null),
    fact(t('fields.delay_announced_at'), when(ticket.delay_announced_at)),
    fact(t('fields.promised_at'), ticket.promised_at ? h('span', { class: 'promised-at' }, fmtWhenFull(ticket.promised_at)) : null,
      ticket.postponements ? ` (${t('fields.postponements', { n: ticket.postponements })})` : null),
    fact(t('fields.answered_at'), when(ticket.answered_at)),
    fact(t('fields.followed_up_at'), when(ticket.followed_up_at),
      ticket.satisfaction ? ` · ${t(`satisfaction.${ticket.satisfaction}`)}` : null),
    fact(t('fields.closed_at'), when(ticket.closed_at)),
    fact(t('fields.escalation_level'), ticket.escalation_level ? String(ticket.escalation_level) : null),
    fact(t('fields.occurrences'), ticket.occurrences > 1 ? String(ticket.occurrences) : null),
    fact(t('fields.context'), context.length ? context.join('; ') : null),
    fact(t('fields.deadlines'), dues.length ? h('ul', { class: 'dues' }, dues) : null));
}

const DETAIL_KEYS = ['note', 'assignee', 'reason', 'level', 'department', 'from', 'to', 'satisfaction',
  'by_phone', 'signed_by', 'promised_at', 'count', 'title', 'source', 'reopened'];

/** The timeline items of a ticket detail (GET /api/tickets/{id}), newest first. */
export function timelineItems(detail) {
  const names = detail.staff_names || {};
  return [...(detail.audit || [])].reverse().map((entry) => {
    const details = DETAIL_KEYS.filter((key) => entry.detail && entry.detail[key] !== undefined && entry.detail[key] !== null)
      .map((key) => h('div', { class: `timeline-detail detail-${key}` },
        h('span', { class: 'detail-key' }, tMaybe(`detail.${key}`) || key), ' ', detailValue(key, entry.detail[key], names)));
    const actor = personLabel(entry.actor, entry.actor_name || names[entry.actor]);
    return h('li', { dataset: { action: entry.action, actor: entry.actor } },
      h('div', { class: 'timeline-head' },
        h('time', { datetime: entry.at }, fmtWhenFull(entry.at)),
        h('strong', {}, actionLabel(entry.action)),
        h('span', { class: 'who' }, t('drawer.by', { actor, client: tMaybe(`client.${clientKind(entry.client)}`) || entry.client }))),
      details);
  });
}

function detailValue(key, value, names) {
  if (key === 'promised_at') return fmtWhenFull(value);
  if (key === 'department') return departmentLabel(value);
  if (key === 'from' || key === 'to') return value ? classLabel(value) : '—';
  if (key === 'source') return sourceLabel(value);
  if (key === 'assignee') return personLabel(value, names[value]);
  if (key === 'satisfaction') return tMaybe(`satisfaction.${value}`) || String(value);
  if (key === 'by_phone') return t(value ? 'detail.by_phone.yes' : 'detail.by_phone.no');
  return String(value);
}

function clientKind(client) {
  return String(client || '').split(':')[0];
}
