// Which steps the drawer offers: the server's lifecycle rules (server/tickets/lifecycle.py
// ALLOWED_FROM and ROLES_FOR) for the ticket's status and the user's roles. The server still
// decides; a button shown here only spares the user a refusal.

import { ACTIVE_STATUSES } from './config.js';

// lifecycle.py DESK_ROLES and FIELD_ROLES
export const DESK_ROLES = ['desk', 'supervisor', 'manager', 'admin'];
const FIELD_ROLES = ['specialist', 'engineer'];
const BEFORE_ON_SITE = ['new', 'acknowledged', 'dispatched'];
const isActive = (ticket) => ACTIVE_STATUSES.includes(ticket.status);

// Field kinds: text (textarea), datetime (the site's wall clock), select, rating, choice, line.
const note = (required = false) => ({ name: 'note', kind: 'text', required });
const reason = { name: 'reason', kind: 'text', required: true, max: 500 };

/**
 * name: the API action; from: statuses it starts from (ALLOWED_FROM); desk: DESK_ROLES only
 * (ROLES_FOR); when: a further condition; fields: the panel's inputs (none: taken at once).
 */
export const ACTIONS = [
  { name: 'acknowledge', from: ['new'], primary: true },
  { name: 'dispatch', from: BEFORE_ON_SITE, desk: true, picker: 'staff', fields: [note()], primary: true },
  { name: 'note', fields: [note(true)] },
  { name: 'announce_delay', when: (tk) => isActive(tk) && tk.on_site_due_at && !tk.on_site_at && !tk.delay_announced_at,
    fields: [note()] },
  { name: 'postpone', when: isActive, fields: [reason, { name: 'promised_at', kind: 'datetime', required: true }] },
  { name: 'answer', when: (tk) => isActive(tk) && tk.answer_due_at && !tk.answered_at, fields: [note()] },
  { name: 'classify', desk: true, when: (tk) => tk.kind === 'complaint' && tk.status !== 'cancelled',
    fields: [{ name: 'classification', kind: 'select', required: true, options: 'classes' }, note()] },
  { name: 'hand_to_department', desk: true, when: isActive,
    fields: [{ name: 'department', kind: 'select', required: true, options: 'departments' }, note()] },
  { name: 'escalate', desk: true, when: isActive, fields: [note()] },
  { name: 'arrive', from: BEFORE_ON_SITE, fields: [note()] },
  { name: 'resolve', from: ACTIVE_STATUSES, fields: [note()] },
  { name: 'follow_up', from: ['resolved'], primary: true, fields: [
    { name: 'satisfaction', kind: 'rating', required: true },
    { name: 'by_phone', kind: 'choice', options: ['phone', 'visit'] },
    { name: 'signed_by', kind: 'line', max: 100 },
    note(),
  ] },
  { name: 'close', from: ['resolved', 'followed_up'], desk: true },
  { name: 'reopen', from: ['resolved', 'followed_up', 'closed'], desk: true, fields: [reason] },
  { name: 'cancel', from: ACTIVE_STATUSES, desk: true, danger: true, fields: [reason] },
];

export function hasRole(user, roles) {
  return Boolean(user && user.roles && user.roles.some((role) => roles.includes(role)));
}

export const isSupervisor = (user) => hasRole(user, ['supervisor']);

/** The actions this user may take on this ticket now, in the drawer's order. */
export function allowedActions(ticket, user) {
  if (!hasRole(user, [...DESK_ROLES, ...FIELD_ROLES])) return [];
  return ACTIONS.filter((action) => (!action.from || action.from.includes(ticket.status))
    && (!action.when || action.when(ticket))
    && (!action.desk || hasRole(user, DESK_ROLES)));
}

export function actionNamed(name) {
  return ACTIONS.find((action) => action.name === name) || null;
}
