// SLA clocks: which deadline comes next and how close it is (amber under 25 % or 5 min; red when overdue).
// The met/ended rules mirror server/sla/ticket_clocks.py.

import { parseTime } from './time.js';

// [clock, due field, fields that meet it (the first set wins), stopped by resolution too]
export const CLOCKS = [
  ['ack', 'ack_due_at', ['acknowledged_at', 'dispatched_at', 'on_site_at'], true],
  ['on_site', 'on_site_due_at', ['on_site_at'], true],  // the 15-minute on-site promise (domain.md)
  ['department', 'department_due_at', ['handed_to_department_at'], true],  // complaint form within 30 min
  ['answer', 'answer_due_at', ['answered_at'], true],  // major complaints: a clear answer in 3 working days
  ['promised', 'promised_at', ['resolved_at'], false],  // the time told to the requester after a postponement
  ['resolve', 'resolve_due_at', ['resolved_at'], false],
  ['follow_up', 'follow_up_due_at', ['followed_up_at'], false],
];

const AMBER_FRACTION = 0.25;
const AMBER_SECONDS = 5 * 60;

export function metAt(ticket, metFields) {
  for (const field of metFields) if (ticket[field]) return ticket[field];
  return null;
}

function stopped(ticket, metFields, byResolution) {
  return metAt(ticket, metFields) || (byResolution && ticket.resolved_at) || ticket.closed_at
    || ticket.status === 'cancelled';
}

/** The running clocks of a ticket, soonest first: [{clock, due, start, remaining (s), state}]. */
export function pendingClocks(ticket, now = Date.now()) {
  const start = parseTime(ticket.opened_at) || now;
  const result = [];
  for (const [clock, dueField, metFields, byResolution] of CLOCKS) {
    const due = parseTime(ticket[dueField]);
    if (due === null || stopped(ticket, metFields, byResolution)) continue;
    const remaining = (due - now) / 1000;
    const window = Math.max(1, (due - start) / 1000);
    let state = 'ok';
    if (remaining < 0) state = 'red';
    else if (remaining < AMBER_SECONDS || remaining < window * AMBER_FRACTION) state = 'amber';
    result.push({ clock, due, start, remaining, state });
  }
  return result.sort((a, b) => a.due - b.due);
}

export function nextClock(ticket, now = Date.now()) {
  return pendingClocks(ticket, now)[0] || null;
}
