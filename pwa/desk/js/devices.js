// The device board: offline devices first, by building and kind, with when each was last heard.

import { DEVICE_KINDS } from './config.js';
import { age } from './countdown.js';
import { $, h, replace } from './dom.js';
import { t, tMaybe } from './i18n.js';
import { buildingLabel, deviceKindLabel, unitLabel } from './labels.js';
import * as store from './store.js';
import { fillSelect } from './tickets.js';
import { fmtWhen, parseTime } from './time.js';

const filters = { building: '', kind: '', state: 'problems' };
const MAX_ROWS = 400;  // a board, not a spreadsheet: the filters narrow the rest

export function initDevices() {
  const form = $('#device-filters');
  form.addEventListener('input', () => {
    filters.building = $('#device-building').value;
    filters.kind = $('#device-kind').value;
    filters.state = $('#device-state').value;
    renderDevices();
  });
  form.addEventListener('submit', (event) => event.preventDefault());
}

export function fillDeviceFilterOptions(buildings) {
  fillSelect($('#device-building'), [['', t('filters.all_buildings')], ...buildings.map((b) => [b, buildingLabel(b)])]);
  fillSelect($('#device-kind'), [['', t('filters.all_device_kinds')], ...DEVICE_KINDS.map((k) => [k, deviceKindLabel(k)])]);
  fillSelect($('#device-state'), [['problems', t('devices.filter.problems')], ['offline', t('devices.filter.offline')],
    ['all', t('devices.filter.all')]]);
  $('#device-state').value = filters.state;
}

const stateOf = (device) => (device.online === true ? 'online' : device.online === false ? 'offline' : 'unknown');
const RANK = { offline: 0, unknown: 1, online: 2 };

export function renderDevices() {
  const devices = store.allDevices();
  const offline = devices.filter((d) => d.online === false).length;
  const tab = $('#device-count');
  tab.textContent = offline ? String(offline) : '';
  tab.dataset.alert = offline ? 'true' : 'false';
  renderSummary(devices);
  // The board's rows only while it is shown ("last heard" changes every few seconds); the tab
  // renders them when it is opened.
  if ($('#panel-devices').hidden) return;
  const shown = devices.filter((d) => {
    if (filters.building && d.building !== filters.building) return false;
    if (filters.kind && d.kind !== filters.kind) return false;
    if (filters.state === 'offline') return d.online === false;
    if (filters.state === 'problems') return d.online !== true;
    return true;
  }).sort((a, b) => RANK[stateOf(a)] - RANK[stateOf(b)] || a.building.localeCompare(b.building)
    || DEVICE_KINDS.indexOf(a.kind) - DEVICE_KINDS.indexOf(b.kind) || a.slug.localeCompare(b.slug));
  replace($('#device-rows'), shown.slice(0, MAX_ROWS).map(row));
  const more = $('#devices-more');
  more.hidden = shown.length <= MAX_ROWS;
  more.textContent = t('devices.more', { n: shown.length - MAX_ROWS });
  $('#devices-empty').hidden = shown.length > 0;
}

function renderSummary(devices) {
  const cells = DEVICE_KINDS.map((kind) => {
    const of = devices.filter((d) => d.kind === kind);
    const off = of.filter((d) => d.online === false).length;
    const unknown = of.filter((d) => d.online === null).length;
    return h('li', { class: off ? 'has-offline' : '', dataset: { kind } },
      h('span', { class: 'summary-kind' }, deviceKindLabel(kind)),
      h('span', { class: 'summary-numbers' },
        t('devices.summary', { online: of.length - off - unknown, offline: off, unknown })));
  });
  replace($('#device-summary'), cells);
}

function row(device) {
  const state = stateOf(device);
  return h('tr', { dataset: { deviceId: device.id, slug: device.slug, state } },
    h('td', {}, h('span', { class: `dot dot-${state}` }), h('span', { class: `device-state state-${state}` }, t(`devices.state.${state}`))),
    h('td', { class: 'mono' }, device.slug),
    h('td', {}, deviceKindLabel(device.kind), device.role ? h('span', { class: 'sub' }, tMaybe(`device_role.${device.role}`) || device.role) : null),
    h('td', {}, device.unit ? unitLabel(device.unit, device.building) : buildingLabel(device.building)),
    h('td', { class: 'num' }, device.last_seen_at ? [fmtWhen(parseTime(device.last_seen_at)), h('span', { class: 'sub' }, age(device.last_seen_at))]
      : h('span', { class: 'muted' }, t('devices.never_seen'))),
    h('td', { class: 'num' }, device.status_changed_at ? fmtWhen(parseTime(device.status_changed_at)) : ''));
}
