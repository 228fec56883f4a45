// The ticket drawer: details, requester, deadlines, the timeline from the audit trail, and the
// desk's actions (acknowledge, dispatch, note, escalate, announce delay, resolve …), errors inline.

import { act, currentUser, get } from './api.js';
import { ACTIVE_STATUSES } from './config.js';
import { countdown } from './countdown.js';
import { $, h, replace } from './dom.js';
import { errorText } from './errors.js';
import { t, tMaybe } from './i18n.js';
import {
  actionLabel, buildingLabel, classLabel, clockLabel, departmentLabel, kindLabel, placeLabel, severityLabel,
  sourceLabel, statusLabel, typeLabel, unitLabel,
} from './labels.js';
import { CLOCKS, metAt } from './sla.js';
import { staffFor, staffName } from './staff.js';
import * as store from './store.js';
import { fmtWhenFull, parseTime } from './time.js';

const active = (ticket) => ACTIVE_STATUSES.includes(ticket.status);
const BEFORE_ON_SITE = ['new', 'acknowledged', 'dispatched'];

// panel: what opens under the buttons (null: the action is taken at once); note: the text field.
const ACTIONS = [
  { name: 'acknowledge', when: (tk) => tk.status === 'new', primary: true },
  { name: 'dispatch', when: (tk) => BEFORE_ON_SITE.includes(tk.status), panel: 'dispatch', field: 'note', primary: true, deskOnly: true },
  { name: 'note', when: () => true, panel: 'text', field: 'note', required: true },
  { name: 'announce_delay', panel: 'text', field: 'note',
    when: (tk) => active(tk) && tk.on_site_due_at && !tk.on_site_at && !tk.delay_announced_at },
  { name: 'escalate', when: active, panel: 'text', field: 'note', deskOnly: true },
  { name: 'arrive', when: (tk) => BEFORE_ON_SITE.includes(tk.status), panel: 'text', field: 'note' },
  { name: 'resolve', when: active, panel: 'text', field: 'note' },
  { name: 'cancel', when: active, panel: 'text', field: 'reason', required: true, danger: true, deskOnly: true },
];

// Roles the server lets dispatch, escalate and cancel (server/tickets/lifecycle.py DESK_ROLES).
const DESK_ROLES = ['desk', 'supervisor', 'manager', 'admin'];

function mayTake(action) {
  const user = currentUser();
  return !action.deskOnly || !user || user.roles.some((role) => DESK_ROLES.includes(role));
}

const state = { id: null, detail: null, panel: null, error: null, busy: false, staff: null, staffError: null };
let onClose = () => {};
let toast = () => {};
let refetchTimer = null;

export function initDrawer(hooks) {
  ({ onClose, toast } = hooks);
  $('#drawer-close').addEventListener('click', () => closeDrawer());
}

export function drawerTicketId() {
  return state.id;
}

export async function openDrawer(id) {
  if (state.id !== id) Object.assign(state, { id, detail: null, panel: null, error: null, staff: null, staffError: null });
  const drawer = $('#drawer');
  drawer.hidden = false;
  document.body.classList.add('drawer-open');
  renderDrawer();
  drawer.focus({ preventScroll: true });
  await refetch();
}

export function closeDrawer() {
  const id = state.id;
  state.id = null;
  $('#drawer').hidden = true;
  document.body.classList.remove('drawer-open');
  onClose(id);
}

/** A stream event touched a ticket: if it is the open one, reload its timeline. */
export function ticketChanged(id) {
  if (id !== state.id) return;
  renderDrawer({ keepPanel: true });
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(refetch, 150);
}

async function refetch() {
  const id = state.id;
  if (id === null) return;
  try {
    const detail = await get(`/api/tickets/${id}`);
    if (state.id !== id) return;
    state.detail = detail;
    store.upsertTicket(stripAudit(detail));
  } catch (error) {
    if (state.id !== id) return;
    state.error = errorText(error);
  }
  renderDrawer({ keepPanel: true });
}

function stripAudit(detail) {
  const { audit, ...ticket } = detail;  // eslint-disable-line no-unused-vars
  return ticket;
}

function current() {
  // The stream's state is at least as new as the detail's; the audit comes from the detail.
  const fromStore = store.ticket(state.id);
  if (fromStore && state.detail && (parseTime(state.detail.updated_at) || 0) > (parseTime(fromStore.updated_at) || 0)) {
    return state.detail;
  }
  return fromStore || state.detail;
}

export function renderDrawer({ keepPanel = false } = {}) {
  if (state.id === null) return;
  const ticket = current();
  const drawer = $('#drawer');
  drawer.dataset.ticketId = String(state.id);
  if (!ticket) {
    $('#drawer-title').textContent = t('drawer.loading', { id: state.id });
    for (const id of ['#drawer-summary', '#drawer-actions', '#drawer-facts', '#drawer-timeline']) replace($(id));
    return;
  }
  drawer.dataset.status = ticket.status;
  $('#drawer-title').textContent = t('drawer.title', { id: ticket.id, type: typeLabel(ticket) });
  replace($('#drawer-summary'),
    h('div', { class: 'drawer-badges' },
      h('span', { class: `sev sev-${ticket.severity}` }, severityLabel(ticket.severity)),
      h('span', { class: `status status-${ticket.status}` }, statusLabel(ticket.status)),
      countdown(ticket)),
    h('p', { class: 'drawer-ticket-title' }, ticket.title),
    h('p', { class: 'drawer-place' }, placeLabel(ticket)));
  renderActions(ticket);
  if (!keepPanel) renderPanel(ticket);
  const error = $('#drawer-error');
  error.hidden = !state.error;
  error.textContent = state.error || '';
  replace($('#drawer-facts'), facts(ticket));
  renderTimeline();
}

function renderActions(ticket) {
  const buttons = ACTIONS.filter((a) => a.when(ticket) && mayTake(a)).map((a) => h('button', {
    type: 'button', class: `btn ${a.primary ? 'primary' : a.danger ? 'danger' : 'secondary'}`,
    dataset: { action: a.name }, 'aria-pressed': state.panel === a.name ? 'true' : null, disabled: state.busy,
    onclick: () => choose(a, ticket),
  }, t(`actions.${a.name}`)));
  replace($('#drawer-actions'), buttons);
}

function choose(action, ticket) {
  state.error = null;
  if (!action.panel) {
    submit(action.name, {});
    return;
  }
  state.panel = state.panel === action.name ? null : action.name;
  renderDrawer();
  if (state.panel === 'dispatch') loadStaff(ticket);
  const first = $('#drawer-panel textarea, #drawer-panel input');
  if (first) first.focus();
}

async function loadStaff(ticket) {
  state.staff = null;
  state.staffError = null;
  try {
    state.staff = await staffFor(ticket.building);
  } catch (error) {
    state.staffError = errorText(error);
  }
  if (state.panel === 'dispatch') renderPanel(current());
}

function renderPanel(ticket) {
  const panel = $('#drawer-panel');
  const action = ACTIONS.find((a) => a.name === state.panel);
  if (!action || !ticket) {
    replace(panel);
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const form = h('form', { class: 'panel-form', dataset: { action: action.name } });
  form.append(h('h3', {}, t(`actions.${action.name}`)));
  if (action.panel === 'dispatch') form.append(staffPicker());
  if (action.field) {
    const label = t(`panel.${action.name}.${action.field}`);
    form.append(h('label', { class: 'field' }, h('span', {}, label),
      h('textarea', { name: action.field, rows: '3', maxlength: action.field === 'reason' ? '500' : '2000',
        required: action.required || false, placeholder: t(`panel.${action.name}.placeholder`) })));
  }
  const hint = tMaybe(`panel.${action.name}.hint`);
  if (hint) form.append(h('p', { class: 'hint' }, hint));
  form.append(h('div', { class: 'panel-buttons' },
    h('button', { type: 'submit', class: `btn ${action.danger ? 'danger' : 'primary'}`, disabled: state.busy },
      t(`panel.${action.name}.submit`)),
    h('button', { type: 'button', class: 'btn secondary', onclick: () => { state.panel = null; renderDrawer(); } },
      t('panel.cancel'))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const fields = {};
    if (action.field) {
      const text = String(data.get(action.field) || '').trim();
      if (text) fields[action.field] = text;
      else if (action.required) {
        state.error = t('errors.required', { field: t(`panel.${action.name}.${action.field}`) });
        renderDrawer({ keepPanel: true });
        return;
      }
    }
    if (action.panel === 'dispatch') {
      const assignee = data.get('assignee_id');
      if (!assignee) {
        state.error = t('errors.pick_assignee');
        renderDrawer({ keepPanel: true });
        return;
      }
      fields.assignee_id = Number(assignee);
    }
    submit(action.name, fields);
  });
  replace(panel, form);
}

function staffPicker() {
  if (state.staffError) return h('p', { class: 'inline-error' }, state.staffError);
  if (!state.staff) return h('p', { class: 'muted' }, t('dispatch.loading'));
  if (!state.staff.length) return h('p', { class: 'muted' }, t('dispatch.nobody'));
  const suggested = state.staff.find((s) => s.suggested) || null;
  return h('fieldset', { class: 'staff-picker' },
    h('legend', {}, t('dispatch.who')),
    state.staff.map((person) => h('label', { class: `staff-option${person.suggested ? ' suggested' : ''}`, dataset: { staffId: person.id, username: person.username } },
      h('input', { type: 'radio', name: 'assignee_id', value: String(person.id), checked: suggested && suggested.id === person.id }),
      h('span', { class: 'staff-name' }, person.display_name),
      person.suggested ? h('span', { class: 'badge suggested' }, t('dispatch.suggested')) : null,
      h('span', { class: 'staff-meta' }, [
        person.roles.map((r) => tMaybe(`role.${r}`) || r).join(' / '),
        person.buildings.length ? person.buildings.map(buildingLabel).join(' ') : t('dispatch.whole_estate'),
      ].join(' · ')),
      h('span', { class: `staff-load${person.open_tickets >= 5 ? ' heavy' : ''}` }, t('dispatch.load', { n: person.open_tickets })))));
}

async function submit(name, fields) {
  const id = state.id;
  state.busy = true;
  state.error = null;
  renderDrawer({ keepPanel: true });
  try {
    const detail = await act(id, name, fields);
    if (state.id === id) {
      state.detail = detail;
      state.panel = null;
    }
    store.upsertTicket(stripAudit(detail));
    toast(t('toast.done', { action: t(`actions.${name}`), id }));
  } catch (error) {
    if (state.id === id) state.error = errorText(error);
    if (error.status === 409) refetch();
  } finally {
    state.busy = false;
    if (state.id === id) renderDrawer({ keepPanel: state.panel !== null });
  }
}

function fact(label, ...value) {
  const values = value.flat().filter((v) => v !== null && v !== undefined && v !== '');
  if (!values.length) return null;
  return [h('dt', {}, label), h('dd', {}, values)];
}

function when(iso) {
  return iso ? fmtWhenFull(iso) : null;
}

function facts(ticket) {
  const phone = ticket.requester_phone
    ? h('a', { href: `tel:${ticket.requester_phone.replace(/[^0-9+]/g, '')}`, class: 'phone' }, ticket.requester_phone) : null;
  const context = Object.entries(ticket.context || {})
    .filter(([key]) => !['event_id', 'floor'].includes(key))
    .map(([key, value]) => `${tMaybe(`context.${key}`) || key}: ${typeof value === 'object' ? JSON.stringify(value) : value}`);
  const dues = CLOCKS.filter(([, due]) => ticket[due]).map(([clock, due, metFields]) => {
    const met = metAt(ticket, metFields);
    return h('li', { class: met ? 'done' : '' },
      h('span', {}, clockLabel(clock)), ' ', h('span', { class: 'num' }, fmtWhenFull(ticket[due])),
      met ? h('span', { class: 'badge ok' }, t('sla.met_at', { time: fmtWhenFull(met) })) : null);
  });
  return h('dl', { class: 'facts' },
    fact(t('fields.kind'), kindLabel(ticket.kind), ticket.type !== ticket.kind ? ` (${ticket.type})` : null),
    fact(t('fields.source'), sourceLabel(ticket.source)),
    fact(t('fields.building'), buildingLabel(ticket.building)),
    fact(t('fields.unit'), ticket.unit ? unitLabel(ticket.unit) : null),
    fact(t('fields.device'), ticket.device),
    fact(t('fields.requester'), ticket.requester_name, ticket.requester_name && phone ? ' · ' : null, phone),
    fact(t('fields.description'), ticket.description),
    fact(t('fields.needs_on_site'), ticket.needs_on_site ? t('common.yes') : null),
    fact(t('fields.opened_at'), when(ticket.opened_at)),
    fact(t('fields.acknowledged_at'), when(ticket.acknowledged_at)),
    fact(t('fields.assignee'), staffName(ticket.assignee_id), ticket.dispatched_at ? ` · ${fmtWhenFull(ticket.dispatched_at)}` : null),
    fact(t('fields.on_site_at'), when(ticket.on_site_at)),
    fact(t('fields.resolved_at'), when(ticket.resolved_at)),
    fact(t('fields.resolution_note'), ticket.resolution_note),
    fact(t('fields.department'), ticket.department ? departmentLabel(ticket.department) : null),
    fact(t('fields.classification'), ticket.classification ? classLabel(ticket.classification) : null),
    fact(t('fields.delay_announced_at'), when(ticket.delay_announced_at)),
    fact(t('fields.promised_at'), when(ticket.promised_at), ticket.postponements ? ` (${t('fields.postponements', { n: ticket.postponements })})` : null),
    fact(t('fields.escalation_level'), ticket.escalation_level ? String(ticket.escalation_level) : null),
    fact(t('fields.occurrences'), ticket.occurrences > 1 ? String(ticket.occurrences) : null),
    fact(t('fields.context'), context.length ? context.join('; ') : null),
    fact(t('fields.deadlines'), dues.length ? h('ul', { class: 'dues' }, dues) : null));
}

const DETAIL_KEYS = ['note', 'assignee', 'reason', 'level', 'department', 'from', 'to', 'satisfaction',
  'signed_by', 'promised_at', 'title', 'source', 'reopened'];

function renderTimeline() {
  const list = $('#drawer-timeline');
  const audit = state.detail && state.detail.id === state.id ? state.detail.audit || [] : [];
  if (!audit.length) {
    replace(list, h('li', { class: 'muted' }, state.detail ? t('drawer.no_history') : t('drawer.loading_history')));
    return;
  }
  // Newest first: the desk wants to know what just happened.
  replace(list, [...audit].reverse().map((entry) => {
    const details = DETAIL_KEYS.filter((key) => entry.detail && entry.detail[key] !== undefined && entry.detail[key] !== null)
      .map((key) => h('div', { class: `timeline-detail detail-${key}` },
        h('span', { class: 'detail-key' }, tMaybe(`detail.${key}`) || key), ' ', detailValue(key, entry.detail[key])));
    return h('li', { dataset: { action: entry.action } },
      h('div', { class: 'timeline-head' },
        h('time', { datetime: entry.at }, fmtWhenFull(entry.at)),
        h('strong', {}, actionLabel(entry.action)),
        h('span', { class: 'who' }, t('drawer.by', { actor: actorLabel(entry.actor), client: tMaybe(`client.${clientKind(entry.client)}`) || entry.client }))),
      details);
  }));
}

function detailValue(key, value) {
  if (key === 'promised_at') return fmtWhenFull(value);
  if (key === 'department') return departmentLabel(value);
  if (key === 'from' || key === 'to') return value ? classLabel(value) : '—';
  if (key === 'source') return sourceLabel(value);
  return String(value);
}

function actorLabel(actor) {
  return actor === 'rules' ? t('actor.rules') : actor;
}

function clientKind(client) {
  return String(client || '').split(':')[0];
}
