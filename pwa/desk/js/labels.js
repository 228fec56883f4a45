// How API values read on screen: every word from the i18n files, places by the estate's names.

import { buildingName, buildingOfUnit } from './estate.js';
import { t, tMaybe } from './i18n.js';

export const kindLabel = (kind) => tMaybe(`kind.${kind}`) || kind;
export const statusLabel = (status) => tMaybe(`status.${status}`) || status;
export const severityLabel = (severity) => tMaybe(`severity.${severity}`) || severity;
export const sourceLabel = (source) => tMaybe(`source.${source}`) || source;
export const deviceKindLabel = (kind) => tMaybe(`device_kind.${kind}`) || kind;
export const departmentLabel = (value) => tMaybe(`department.${value}`) || value;
export const classLabel = (value) => tMaybe(`complaint_class.${value}`) || value;
export const clockLabel = (clock) => tMaybe(`sla.${clock}`) || clock;
export const actionLabel = (action) => tMaybe(`action.${action}`) || action;

/** The event type ("elevator.trapped") for device tickets, else the kind. */
export function typeLabel(ticket) {
  return (ticket.type && tMaybe(`type.${ticket.type}`)) || kindLabel(ticket.kind);
}

// Tickets the rules engine opened (device or intercom source, an event type of their own):
// their stored title is the rule file's Chinese; the desk words it in its own language.
const RULE_SOURCES = ['device', 'intercom'];

/** The ticket's subject in the desk's language; a person's own words (or an unknown rule) as stored. */
export function titleLabel(ticket) {
  if (!RULE_SOURCES.includes(ticket.source) || !ticket.type || ticket.type === ticket.kind) return ticket.title;
  const context = ticket.context || {};
  const present = (value) => value !== undefined && value !== null && value !== '';
  const text = tMaybe(`title.${ticket.type}`, {
    device: ticket.device || '',
    unit: ticket.unit || '',
    from_unit: present(context.from_unit) ? context.from_unit : (ticket.device || ''),
    floor: present(context.floor) ? t('title.floor', { n: context.floor }) : '',
    code: present(context.code) ? t('title.code', { code: context.code }) : '',
  });
  return text ? text.replace(/\s+/g, ' ').trim() : ticket.title;
}

/** The estate's name for a building (1#楼); the slug until the estate is loaded. */
export function buildingLabel(slug) {
  if (!slug) return '';
  return buildingName(slug) || slug;
}

/** "1#楼 1203" for unit b1-1203 */
export function unitLabel(slug, building = null) {
  if (!slug) return '';
  const owner = building && slug.startsWith(`${building}-`) ? building : buildingOfUnit(slug);
  if (!owner) return slug;
  return t('unit.in_building', { building: buildingLabel(owner), room: slug.slice(owner.length + 1) });
}

/** Where it is: building, unit or device, and the floor when the alarm says. */
export function placeLabel(ticket) {
  const parts = [];
  if (ticket.unit) parts.push(unitLabel(ticket.unit, ticket.building));
  else if (ticket.building) parts.push(buildingLabel(ticket.building));
  if (ticket.device) parts.push(ticket.device);
  const floor = ticket.context && ticket.context.floor;
  if (floor !== undefined && floor !== null && floor !== '') parts.push(t('floor.n', { n: floor }));
  return parts.join(' · ');
}

/** A staff member by name: the server's display name, else the username (or "rules"). */
export function personLabel(username, displayName) {
  if (displayName) return displayName;
  return username === 'rules' ? t('actor.rules') : (username || '');
}

/** Who the ticket is with: the assignee's name (the ticket carries it), or nobody yet. */
export function assigneeLabel(ticket) {
  if (ticket.assignee_name) return ticket.assignee_name;
  return ticket.assignee_id ? `#${ticket.assignee_id}` : '';
}
