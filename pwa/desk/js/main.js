// The live control desk (客服中心): login, the stream, the lists, the drawer, sound and language.

import * as api from './api.js';
import { bindAlarmClicks, initAlarms, renderAlarms } from './alarms.js';
import { checkCalendar, render as renderCalendarNotice, wireCalendarNotice } from './calendar_notice.js';
import { ACTIVE_STATUSES, DEVICE_REFRESH_MS, RESYNC_EVERY_MS } from './config.js';
import { fillDeviceFilterOptions, initDevices, renderDevices } from './devices.js';
import { closeDrawer, drawerTicketId, initDrawer, openDrawer, renderDrawer, ticketChanged } from './drawer.js';
import { $ } from './dom.js';
import { errorText } from './errors.js';
import { estateBuildings, estateName, loadEstate } from './estate.js';
import { announce, renderConnection, tick, toast } from './header.js';
import { detectLanguage, language, LANGUAGES, onLanguage, setLanguage, t } from './i18n.js';
import { placeLabel, typeLabel } from './labels.js';
import { fillRequestOptions, initRequestForm, openRequestForm, setRequestBuildings } from './request.js';
import { renderReportLinks } from './report_nav.js';
import { AlarmSound } from './sound.js';
import * as store from './store.js';
import { DeskStream } from './stream.js';
import { fillFilterOptions, initTickets, renderTickets, setSelected } from './tickets.js';

const buildings = new Set();
let started = false;
let snapshotLoaded = false;

const sound = new AlarmSound((state) => {
  document.body.dataset.sound = state;
  renderSoundButton();
});

const stream = new DeskStream({
  onEvent: applyEvent,
  onState: renderConnection,
  onUnauthorized: () => sessionExpired(),
  onStart: ({ resumed }) => {
    // A fresh stream (no id to resume from) begins "now": load what exists, after it began,
    // so nothing falls between the snapshot and the first event.
    if (!resumed || !snapshotLoaded) loadSnapshot();
  },
});

// ---- stream events and snapshots ---------------------------------------------------------

function applyEvent({ type, data }) {
  if (type === 'ticket' && data.ticket) {
    const previous = store.upsertTicket(data.ticket);
    noteBuilding(data.ticket.building);
    if ((!previous || !store.isAlarm(previous)) && store.isAlarm(data.ticket)) newAlarm(data.ticket);
    ticketChanged(data.ticket.id);
  } else if (type === 'device' && data.device) {
    store.upsertDevice(data.device);
    noteBuilding(data.device.building);
  } else if (type === 'seen') {
    for (const device of data.devices || []) store.touchDevice(device.id, device.last_seen_at);
  }
}

// The estate's zone and building names; before it answers (or if it cannot), times show in the
// default zone and buildings by slug.
async function refreshEstate() {
  try {
    if (await loadEstate()) relabel();
    checkCalendar();  // after the estate: its slug and zone
  } catch (error) {
    if (error.status !== 401) console.warn('estate', error);
  }
}

async function loadSnapshot() {
  const takenAt = Date.now();
  try {
    const [tickets, devices] = await Promise.all([
      api.getAll(`/api/tickets?status=${ACTIVE_STATUSES.join(',')}`),
      api.getAll('/api/devices'),
      refreshEstate(),
    ]);
    for (const ticket of tickets) {
      store.upsertTicket(ticket);
      noteBuilding(ticket.building);
    }
    if (snapshotLoaded) {
      // A minute's margin for clock skew between this PC and the server.
      store.pruneActive(new Set(tickets.map((x) => x.id)), takenAt - 60000);
      store.forgetInactive(drawerTicketId());  // a desk runs for weeks: keep only what it shows
    }
    for (const device of devices) {
      store.upsertDevice(device);
      noteBuilding(device.building);
    }
    snapshotLoaded = true;
    document.body.dataset.loaded = 'true';
  } catch (error) {
    if (error.status !== 401) toast(errorText(error), 'error');
  }
}

async function refreshDevices() {
  if ($('#panel-devices').hidden || stream.state !== 'live') return;
  try {
    for (const device of await api.getAll('/api/devices')) store.upsertDevice(device);
  } catch (error) {
    console.warn('devices', error);
  }
}

function noteBuilding(slug) {
  if (!slug || buildings.has(slug)) return;
  buildings.add(slug);
  fillOptions();
}

function fillOptions() {
  // The estate's buildings in its own order, then any other a ticket or device mentioned.
  const known = estateBuildings();
  const others = [...buildings].filter((b) => !known.includes(b)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const list = [...known, ...others];
  fillFilterOptions(list);
  fillDeviceFilterOptions(list);
  setRequestBuildings(list);
}

// ---- what a change does on screen ---------------------------------------------------------

store.subscribe((batch) => {
  const { ringing } = renderAlarms();
  renderTickets();
  if (batch.devices.size) renderDevices();
  sound.setRinging(ringing > 0);
  document.title = ringing ? t('app.title_ringing', { n: ringing }) : t('app.title');
});

function newAlarm(ticket) {
  announce(t('alarms.announce', { type: typeLabel(ticket), place: placeLabel(ticket) }));
  if (ticket.severity !== 'critical') sound.chime();
}

// ---- header ---------------------------------------------------------------------------------

function renderSoundButton() {
  const button = $('#sound-arm');
  const state = sound.state();
  button.dataset.state = state;
  button.textContent = t(`sound.${state}`);
  $('#sound-prompt').hidden = state !== 'off';
}

// ---- login and session ---------------------------------------------------------------------

function showLogin({ expired = false } = {}) {
  const overlay = $('#login');
  // A modal dialog: it goes on top of anything open (a half-written request stays underneath).
  if (!overlay.open) overlay.showModal();
  $('#login-expired').hidden = !expired;
  $('#login-error').hidden = true;
  const user = api.currentUser();
  if (user && !$('#login-username').value) $('#login-username').value = user.username;
  ($('#login-username').value ? $('#login-password') : $('#login-username')).focus();
}

function sessionExpired() {
  // Keep the page as it is (open drawer, half-written request): log in again on top of it.
  stream.stop();
  showLogin({ expired: true });
}

async function submitLogin(event) {
  event.preventDefault();
  const button = $('#login-submit');
  button.disabled = true;
  $('#login-error').hidden = true;
  try {
    const previous = api.currentUser();
    const user = await api.login($('#login-username').value.trim(), $('#login-password').value);
    $('#login-password').value = '';
    if (previous && previous.id !== user.id) {
      store.clearAll();
      stream.reset();
      snapshotLoaded = false;
    }
    $('#login').close();
    startDesk();
  } catch (error) {
    const box = $('#login-error');
    box.hidden = false;
    box.textContent = error.status === 401 ? t('login.wrong') : errorText(error);
  } finally {
    button.disabled = false;
  }
}

function logout() {
  stream.stop();
  stream.reset();
  api.logout();
  store.clearAll();
  snapshotLoaded = false;
  closeDrawer();
  $('#app').hidden = true;
  $('#login-username').value = '';
  showLogin();
}

function startDesk() {
  const user = api.currentUser();
  $('#user-name').textContent = user ? user.display_name : '';
  $('#estate-name').textContent = estateName();
  $('#app').hidden = false;
  document.body.dataset.user = user ? user.username : '';
  stream.start();  // resumes from the last event id if this is a re-login
  openLinkedTicket();
  if (!started) {
    started = true;
    window.addEventListener('hashchange', openLinkedTicket);
    setInterval(refreshDevices, DEVICE_REFRESH_MS);
    setInterval(() => { if (stream.state === 'live') loadSnapshot(); }, RESYNC_EVERY_MS);
  }
}

// ---- tabs, keys, language -------------------------------------------------------------------

function selectTab(name) {
  for (const tab of ['tickets', 'devices']) {
    const selected = tab === name;
    $(`#tab-${tab}`).setAttribute('aria-selected', String(selected));
    $(`#tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`#panel-${tab}`).hidden = !selected;
  }
  if (name === 'devices') {
    renderDevices();
    refreshDevices();
  }
}

function typing(target) {
  return target && (target.closest('input, textarea, select, [contenteditable]') || target.closest('dialog'));
}

function onKey(event) {
  if (event.key === 'Escape' && drawerTicketId() !== null && !$('#request-dialog').open && !typing(event.target)) {
    closeDrawer();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || $('#login').open) return;
  if (event.key === '/') {
    event.preventDefault();
    selectTab('tickets');
    $('#filter-search').focus();
  } else if (event.key === 'n' || event.key === 'N') {
    event.preventDefault();
    openRequestForm();
  }
}

function relabel() {
  $('#estate-name').textContent = estateName();
  fillOptions();
  fillRequestOptions();
  renderConnection(stream.state, {});
  renderSoundButton();
  renderAlarms();
  renderTickets();
  renderDevices();
  renderDrawer({ keepPanel: false });
  renderCalendarNotice();
  $('#lang-select').value = language();
  tick();
}

async function main() {
  renderReportLinks();
  await setLanguage(detectLanguage());
  const select = $('#lang-select');
  for (const option of select.options) option.textContent = t(`lang.${option.value}`);
  select.value = language();
  select.addEventListener('change', () => setLanguage(select.value, { remember: true }));
  onLanguage(relabel);

  api.setUnauthorizedHandler(() => sessionExpired());
  initAlarms({ onOpen: openTicket });
  bindAlarmClicks();
  initTickets({ onOpen: openTicket });
  initDevices();
  initDrawer({ onClose: () => setSelected(null), toast });
  initRequestForm({
    onCreated: (ticket) => {
      store.upsertTicket(stripAudit(ticket));
      toast(t('toast.created', { id: ticket.id }));
      openTicket(ticket.id);
    },
  });
  $('#login-form').addEventListener('submit', submitLogin);
  $('#login').addEventListener('cancel', (event) => event.preventDefault());  // Esc must not skip the login
  $('#logout').addEventListener('click', logout);
  $('#new-request').addEventListener('click', () => openRequestForm());
  $('#sound-arm').addEventListener('click', () => sound.arm());
  $('#reconnect-now').addEventListener('click', () => stream.reconnectNow());
  wireCalendarNotice();
  $('#tab-tickets').addEventListener('click', () => selectTab('tickets'));
  $('#tab-devices').addEventListener('click', () => selectTab('devices'));
  document.addEventListener('keydown', onKey);
  relabel();
  setInterval(tick, 1000);

  // For tests and support staff poking at a desk in DevTools.
  window.fieldopsDesk = { stream, store, sound, languages: LANGUAGES, open: openTicket };

  if (!api.token()) {
    showLogin();
    return;
  }
  try {
    await api.get('/api/auth/me');
    startDesk();
  } catch (error) {
    if (error.status !== 401) {
      // The server is unreachable: show the desk and let the stream keep trying.
      startDesk();
      toast(errorText(error), 'error');
    }
  }
}

function openTicket(id) {
  setSelected(id);
  openDrawer(id);
}

// `/desk/#ticket=42` (a link from the report pages) opens that ticket's drawer.
function openLinkedTicket() {
  const match = /^#ticket=(\d+)$/.exec(location.hash);
  if (match && api.token()) openTicket(Number(match[1]));
}

function stripAudit(detail) {
  const { audit, staff_names: names, ...ticket } = detail;  // eslint-disable-line no-unused-vars
  return ticket;
}

main();
