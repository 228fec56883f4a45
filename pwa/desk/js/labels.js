// How API values read on screen: every word from the i18n files.

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

/** "1#楼" for b1. The API gives building slugs only (no names yet), so the slug's number is used. */
export function buildingLabel(slug) {
  if (!slug) return '';
  const match = /^b(\d+)$/.exec(slug);
  return match ? t('building.number', { n: match[1] }) : slug;
}

/** "1#楼 1203" for unit b1-1203 */
export function unitLabel(slug) {
  if (!slug) return '';
  const match = /^(b\d+)-(\d+)$/.exec(slug);
  return match ? t('unit.in_building', { building: buildingLabel(match[1]), room: match[2] }) : slug;
}

/** Where it is: building, unit or device, and the floor when the alarm says. */
export function placeLabel(ticket) {
  const parts = [];
  if (ticket.unit) parts.push(unitLabel(ticket.unit));
  else if (ticket.building) parts.push(buildingLabel(ticket.building));
  if (ticket.device) parts.push(ticket.device);
  const floor = ticket.context && ticket.context.floor;
  if (floor !== undefined && floor !== null && floor !== '') parts.push(t('floor.n', { n: floor }));
  return parts.join(' · ');
}
