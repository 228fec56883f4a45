// What the desk knows: tickets and devices by id, kept current by upserts from the stream.

import { ACTIVE_STATUSES } from './config.js';
import { parseTime } from './time.js';

const tickets = new Map();
const devices = new Map();
const listeners = new Set();
let scheduled = false;
const changed = { tickets: new Set(), devices: new Set() };

export function subscribe(listener) {
  listeners.add(listener);
}

function notify(kind, id) {
  changed[kind].add(id);
  if (scheduled) return;
  scheduled = true;
  // One render per animation frame, however many events a replay brings.
  queueMicrotask(() => requestAnimationFrame(() => {
    scheduled = false;
    const batch = { tickets: new Set(changed.tickets), devices: new Set(changed.devices) };
    changed.tickets.clear();
    changed.devices.clear();
    for (const listener of listeners) listener(batch);
  }));
}

/**
 * Put a ticket's state in; an older state never overwrites a newer one (a snapshot and the
 * stream can cross). Returns the previous state, or undefined if it was new to us.
 */
export function upsertTicket(ticket) {
  const previous = tickets.get(ticket.id);
  if (previous && (parseTime(previous.updated_at) || 0) > (parseTime(ticket.updated_at) || 0)) return previous;
  tickets.set(ticket.id, ticket);
  notify('tickets', ticket.id);
  return previous;
}

function deviceStamp(device) {
  return Math.max(parseTime(device.status_changed_at) || 0, parseTime(device.last_seen_at) || 0);
}

export function upsertDevice(device) {
  const previous = devices.get(device.id);
  if (previous && deviceStamp(previous) > deviceStamp(device)) return previous;
  devices.set(device.id, device);
  notify('devices', device.id);
  return previous;
}

/** A device was heard at `lastSeenAt` (the stream's `seen` events): keep the newer time. */
export function touchDevice(id, lastSeenAt) {
  const device = devices.get(id);
  if (!device || (parseTime(device.last_seen_at) || 0) >= (parseTime(lastSeenAt) || 0)) return;
  devices.set(id, { ...device, last_seen_at: lastSeenAt });
  notify('devices', id);
}

export function ticket(id) {
  return tickets.get(id);
}

export function allTickets() {
  return [...tickets.values()];
}

export function activeTickets() {
  return allTickets().filter((t) => ACTIVE_STATUSES.includes(t.status));
}

/**
 * Forget active tickets a fresh snapshot no longer lists, unless they changed after it was
 * taken (then the stream has the newer word).
 */
export function pruneActive(snapshotIds, takenAt) {
  for (const t of tickets.values()) {
    if (ACTIVE_STATUSES.includes(t.status) && !snapshotIds.has(t.id) && (parseTime(t.updated_at) || 0) < takenAt) {
      tickets.delete(t.id);
      notify('tickets', t.id);
    }
  }
}

/** Drop tickets that are no longer active (they were shown once; the API has them). */
export function forgetInactive(keepId) {
  for (const t of [...tickets.values()]) {
    if (!ACTIVE_STATUSES.includes(t.status) && t.id !== keepId) tickets.delete(t.id);
  }
}

export function allDevices() {
  return [...devices.values()];
}

export function clearAll() {
  tickets.clear();
  devices.clear();
  notify('tickets', null);
}

/** Alarms the desk must look at: device alarms and anything critical, still active. */
export function isAlarm(t) {
  return ACTIVE_STATUSES.includes(t.status) && (t.kind === 'alarm' || t.severity === 'critical');
}

/** Ringing: critical and nobody has acknowledged it yet. */
export function isRinging(t) {
  return isAlarm(t) && t.severity === 'critical' && t.status === 'new';
}

const SEVERITY_RANK = { critical: 0, high: 1, normal: 2, low: 3 };

export function bySeverityThenAge(a, b) {
  return (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9)
    || (a.status === 'new' ? 0 : 1) - (b.status === 'new' ? 0 : 1)
    || (parseTime(b.opened_at) || 0) - (parseTime(a.opened_at) || 0);
}
