// The ticket drawer: summary, the steps this user may take now (actions.js), the panel a step
// opens (panel.js), refusals inline in the desk's words, facts and timeline (timeline.js).

import { actionNamed, allowedActions } from './actions.js';
import { act, currentUser, get } from './api.js';
import { countdown } from './countdown.js';
import { $, h, replace } from './dom.js';
import { errorText } from './errors.js';
import { t } from './i18n.js';
import { placeLabel, severityLabel, statusLabel, titleLabel, typeLabel } from './labels.js';
import { panelForm } from './panel.js';
import { staffFor } from './staff.js';
import * as store from './store.js';
import { facts, timelineItems } from './timeline.js';
import { parseTime } from './time.js';

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
  const { audit, staff_names: names, ...ticket } = detail;  // eslint-disable-line no-unused-vars
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
    h('p', { class: 'drawer-ticket-title' }, titleLabel(ticket)),
    h('p', { class: 'drawer-place' }, placeLabel(ticket)));
  const allowed = allowedActions(ticket, currentUser());
  // A step that is no longer possible (the ticket moved on) closes its panel.
  if (state.panel && !allowed.some((a) => a.name === state.panel)) state.panel = null;
  renderActions(ticket, allowed);
  if (!keepPanel || !state.panel) renderPanel(ticket);
  const error = $('#drawer-error');
  error.hidden = !state.error;
  error.textContent = state.error || '';
  replace($('#drawer-facts'), facts(ticket));
  renderTimeline();
}

function renderActions(ticket, allowed) {
  const buttons = allowed.map((a) => h('button', {
    type: 'button', class: `btn ${a.primary ? 'primary' : a.danger ? 'danger' : 'secondary'}`,
    dataset: { action: a.name }, 'aria-pressed': state.panel === a.name ? 'true' : null, disabled: state.busy,
    onclick: () => choose(a, ticket),
  }, t(`actions.${a.name}`)));
  replace($('#drawer-actions'), buttons);
}

function choose(action, ticket) {
  state.error = null;
  if (!action.fields && !action.picker) {
    submit(action.name, {});
    return;
  }
  state.panel = state.panel === action.name ? null : action.name;
  renderDrawer();
  if (state.panel === 'dispatch') loadStaff(ticket);
  const first = $('#drawer-panel textarea, #drawer-panel select, #drawer-panel input:not([type=radio])');
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
  const action = actionNamed(state.panel);
  if (!action || !ticket) {
    replace(panel);
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const ctx = { user: currentUser(), busy: state.busy, staff: state.staff, staffError: state.staffError };
  replace(panel, panelForm(action, ticket, ctx, {
    onSubmit: (fields) => submit(action.name, fields),
    onError: (message) => {
      state.error = message;
      renderDrawer({ keepPanel: true });
    },
    onCancel: () => {
      state.panel = null;
      state.error = null;
      renderDrawer();
    },
  }));
}

function setBusy(busy) {
  state.busy = busy;
  for (const button of document.querySelectorAll('#drawer-actions button, #drawer-panel button[type=submit]')) {
    button.disabled = busy;
  }
}

async function submit(name, fields) {
  const id = state.id;
  state.error = null;
  $('#drawer-error').hidden = true;
  setBusy(true);  // the panel keeps what the user typed: a refusal must not wipe it
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
    setBusy(false);
    if (state.id === id) renderDrawer({ keepPanel: state.panel !== null });
  }
}

function renderTimeline() {
  const list = $('#drawer-timeline');
  const detail = state.detail && state.detail.id === state.id ? state.detail : null;
  if (!detail || !(detail.audit || []).length) {
    replace(list, h('li', { class: 'muted' }, detail ? t('drawer.no_history') : t('drawer.loading_history')));
    return;
  }
  replace(list, timelineItems(detail));
}
