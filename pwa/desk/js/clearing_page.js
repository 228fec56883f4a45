// 日清日审 (/desk/clearing.html): every open request with its limits, overdue first, who owns it
// (首问责任制: the assignee, else the first receiver) and what was promised. The server sorts and
// counts (GET /api/reports/daily-clearing); the page keeps its order and ticks the countdowns.

import { get } from './api.js';
import { fillCountdown } from './countdown.js';
import { $, h, replace } from './dom.js';
import { estateBuildings, loadEstate } from './estate.js';
import { t as msg } from './i18n.js';
import { buildingLabel, kindLabel, statusLabel, titleLabel, unitLabel } from './labels.js';
import { clearStatus, downloadButton, showProblem, startPage } from './report_frame.js';
import { CLOCKS } from './sla.js';
import { fmtDeadline, fmtWhen, fmtWhenFull } from './time.js';

// A day's review, not the live desk: the list reloads once a minute, the countdowns every second.
const REFRESH_MS = 60 * 1000;
const TICK_MS = 1000;

const DUE_FIELD = Object.fromEntries(CLOCKS.map(([clock, field]) => [clock, field]));

const state = {
  report: null,  // DailyClearing
  building: '',
  loading: 0,
  countdowns: [],  // [{el, ticket}] of the rows on screen
};

/** The row as the shape sla.js reads: only the clock the server says runs out next. */
function clockTicket(row) {
  const ticket = { id: row.ticket_id, opened_at: row.opened_at, status: row.status };
  const field = DUE_FIELD[row.next_limit];
  if (field && row.next_due_at) ticket[field] = row.next_due_at;
  return ticket;
}

function cell(label, cls, ...children) {
  return h('td', { class: cls || null, 'data-label': label }, h('span', { class: 'value' }, ...children));
}

const sub = (text) => h('span', { class: 'sub' }, text);
const c = (key) => msg(`col.${key}`);

function place(row) {
  if (row.unit) return unitLabel(row.unit, row.building);
  return row.building ? buildingLabel(row.building) : '—';
}

function ownerCell(row) {
  if (!row.owner) return cell(c('owner'), 'owner', h('span', { class: 'missed' }, msg('row.nobody')));
  const note = row.first_receiver && row.first_receiver !== row.owner
    ? msg('row.first_receiver', { name: row.first_receiver }) : msg('row.owner_is_receiver');
  return cell(c('owner'), 'owner', h('strong', {}, row.owner), sub(note));
}

function promisedCell(row) {
  if (!row.promised_at && !row.postponements) return cell(c('promised'), 'muted', '—');
  return cell(c('promised'), 'promised', row.promised_at ? fmtWhen(row.promised_at) : '—',
    row.postponements ? sub(msg('row.postponed', { n: row.postponements })) : null);
}

function renderRows() {
  const rows = state.report ? state.report.rows : [];
  state.countdowns = [];
  replace($('#clearing tbody'), rows.map((row) => {
    const el = h('span', { class: 'sla' });
    const ticket = clockTicket(row);
    fillCountdown(el, ticket);
    state.countdowns.push({ el, ticket });
    const overdue = row.overdue_minutes > 0;
    return h('tr', { class: overdue ? 'overdue-row' : null, dataset: { ticketId: row.ticket_id, overdue: String(overdue) } },
      h('th', { scope: 'row', 'data-label': c('ticket') },
        h('span', { class: 'value' },
          h('a', { href: `./#ticket=${row.ticket_id}`, class: 'ticket-link' }, `#${row.ticket_id}`),
          h('span', { class: 'tag' }, kindLabel(row.kind)))),
      cell(c('request'), 'title', titleLabel(row)),
      cell(c('place'), 'place', place(row)),
      cell(c('status'), 'ticket-status', statusLabel(row.status)),
      ownerCell(row),
      cell(c('limit'), 'limit', el, row.next_due_at ? sub(msg('row.due_at', { time: fmtDeadline(row.next_due_at) })) : null),
      promisedCell(row),
      cell(c('opened'), '', fmtWhen(row.opened_at)));
  }));
  const empty = Boolean(state.report) && rows.length === 0;
  $('#clearing').hidden = empty;
  $('#empty').hidden = !empty;
  $('#empty').textContent = state.building
    ? msg('clearing.empty_building', { building: buildingLabel(state.building) }) : msg('clearing.empty');
}

function renderHead() {
  const r = state.report;
  $('#asof').textContent = r ? msg('clearing.asof', { day: r.day, time: fmtWhenFull(r.generated_at) }) : '';
  replace($('#counts'), r ? [
    h('span', { class: 'badge neutral', id: 'open-count' }, msg('clearing.open_count', { n: r.open_count })),
    h('span', { class: `badge ${r.overdue_count ? 'bad' : 'good'}`, id: 'overdue-count' },
      msg('clearing.overdue_count', { n: r.overdue_count })),
  ] : []);
  $('#xlsx').disabled = !r;
  $('#csv').disabled = !r;
}

function renderFilters() {
  const select = $('#building');
  const buildings = estateBuildings();
  replace(select, h('option', { value: '' }, msg('filters.all_buildings')),
    buildings.map((slug) => h('option', { value: slug }, buildingLabel(slug))));
  select.value = buildings.includes(state.building) ? state.building : '';
}

function render() {
  renderFilters();
  renderHead();
  renderRows();
}

function tick() {
  const now = Date.now();
  for (const { el, ticket } of state.countdowns) fillCountdown(el, ticket, now);
}

function query(format) {
  const params = new URLSearchParams();
  if (state.building) params.set('building', state.building);
  if (format) params.set('format', format);
  const text = params.toString();
  return `/api/reports/daily-clearing${text ? `?${text}` : ''}`;
}

async function load() {
  const ticket = ++state.loading;
  const status = $('#status');
  if (!state.report) clearStatus(status, msg('report.loading'));
  try {
    const report = await get(query());
    if (ticket !== state.loading) return;  // a newer request answered first
    state.report = report;
    clearStatus(status);
    renderHead();
    renderRows();
  } catch (error) {
    if (ticket === state.loading) showProblem(error, status);
  }
}

function wire() {
  $('#filters').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  $('#building').addEventListener('change', () => {
    state.building = $('#building').value;
    load();
  });
  const status = $('#status');
  const day = () => (state.report ? state.report.day : 'today');
  downloadButton($('#xlsx'), status, () => query('xlsx'), () => `daily-clearing-${day()}.xlsx`);
  downloadButton($('#csv'), status, () => query('csv'), () => `daily-clearing-${day()}.csv`);
}

async function main() {
  wire();
  if (!(await startPage(render))) return;
  try {
    await loadEstate();  // building names and the estate's time zone
  } catch (error) {
    showProblem(error, $('#status'));
    if (error.status === 401 || error.status === 403) return;
  }
  render();
  await load();
  setInterval(() => { if (!$('#main').hidden) load(); }, REFRESH_MS);
  setInterval(tick, TICK_MS);
}

main();
