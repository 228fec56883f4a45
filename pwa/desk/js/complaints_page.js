// 投诉记录汇总表 (/desk/complaints.html): a month's complaints per class, department and building,
// with on-time rates and satisfaction. The server answers one row per (class, department,
// building) (GET /api/reports/complaints), as its CSV and XLSX have them; the page adds them up
// per class, per department and per building. The supervisor hands it in on the 28th (domain.md).

import { get } from './api.js';
import { COMPLAINT_CLASSES, DEPARTMENTS, SUPERVISOR_ONLY_CLASS } from './config.js';
import { $, h, replace } from './dom.js';
import { estateBuildings, loadEstate } from './estate.js';
import { t as msg } from './i18n.js';
import { buildingLabel, classLabel, departmentLabel } from './labels.js';
import { clearStatus, downloadButton, showProblem, startPage } from './report_frame.js';
import { timeZone } from './time.js';

const COUNTS = ['received', 'resolved', 'resolved_on_time', 'still_open', 'followed_up'];
const CLASS_ORDER = [...COMPLAINT_CLASSES, SUPERVISOR_ONLY_CLASS, 'unclassified'];
const NO_BUILDING = '-';  // the server's key for a complaint without a building

const state = {
  report: null,  // ComplaintSummary
  loading: 0,
};

// ---- the site's calendar --------------------------------------------------------------------

function today() {
  const parts = {};
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone(), year: 'numeric', month: '2-digit', day: '2-digit' });
  for (const p of format.formatToParts(Date.now())) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

const thisMonth = () => today().slice(0, 7);

function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}

// ---- adding up ------------------------------------------------------------------------------

/** The rows added up by one field; satisfaction weighted by the follow-ups behind each average. */
function group(rows, field) {
  const groups = new Map();
  for (const row of rows) {
    const key = row[field];
    if (!groups.has(key)) groups.set(key, { key, satisfactionSum: 0, ...Object.fromEntries(COUNTS.map((f) => [f, 0])) });
    const g = groups.get(key);
    for (const f of COUNTS) g[f] += row[f];
    if (row.average_satisfaction !== null) g.satisfactionSum += row.average_satisfaction * row.followed_up;
  }
  return [...groups.values()];
}

function total(rows) {
  const [all] = group(rows.map((r) => ({ ...r, all: 'all' })), 'all');
  return all;
}

const onTimeRate = (g) => (g.resolved ? g.resolved_on_time / g.resolved : null);
const satisfaction = (g) => (g.followed_up ? g.satisfactionSum / g.followed_up : null);

function ordered(groups, order) {
  const rank = (key) => (order.includes(key) ? order.indexOf(key) : order.length);
  return groups.sort((a, b) => rank(a.key) - rank(b.key) || String(a.key).localeCompare(String(b.key), 'en', { numeric: true }));
}

// ---- tables ---------------------------------------------------------------------------------

const c = (key) => msg(`col.${key}`);
const percent = (value) => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);
const score = (value) => (value === null ? '—' : value.toFixed(2));
const place = (slug) => (slug === NO_BUILDING ? msg('complaints.no_building') : buildingLabel(slug));

function numbers(g, rate, average) {
  const num = (key, value, cls = '') => h('td', { class: `num ${cls}`.trim(), 'data-label': c(key) }, h('span', { class: 'value' }, value));
  return [
    num('received', g.received), num('resolved', g.resolved), num('resolved_on_time', g.resolved_on_time),
    num('on_time_rate', percent(rate), rate !== null && rate < 1 ? 'late' : ''),
    num('still_open', g.still_open, g.still_open ? 'open' : ''), num('followed_up', g.followed_up),
    num('average_satisfaction', score(average)),
  ];
}

const NUMBER_COLUMNS = ['received', 'resolved', 'resolved_on_time', 'on_time_rate', 'still_open', 'followed_up',
  'average_satisfaction'];

function head(...keys) {
  return h('thead', {}, h('tr', {},
    keys.map((key) => h('th', { scope: 'col' }, c(key))),
    NUMBER_COLUMNS.map((key) => h('th', { scope: 'col', class: 'num' }, c(key)))));
}

function summaryTable(table, keyColumn, groups, label) {
  const all = total(state.report.rows);
  replace(table,
    head(keyColumn),
    h('tbody', {}, groups.map((g) => h('tr', { dataset: { key: g.key } },
      h('th', { scope: 'row', 'data-label': c(keyColumn) }, h('span', { class: 'value' }, label(g.key))),
      numbers(g, onTimeRate(g), satisfaction(g))))),
    h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, msg('complaints.total')),
      numbers(all, onTimeRate(all), satisfaction(all)))));
}

function detailTable() {
  const rows = state.report.rows;
  replace($('#detail'),
    head('classification', 'department', 'building'),
    h('tbody', {}, rows.map((row) => h('tr', { dataset: { class: row.classification, department: row.department, building: row.building } },
      h('th', { scope: 'row', 'data-label': c('classification') }, h('span', { class: 'value' }, classLabel(row.classification))),
      h('td', { 'data-label': c('department') }, h('span', { class: 'value' }, departmentLabel(row.department))),
      h('td', { 'data-label': c('building') }, h('span', { class: 'value' }, place(row.building))),
      numbers(row, row.on_time_rate, row.average_satisfaction)))));
}

function renderDue() {
  const r = state.report;
  const due = $('#due');
  if (!r) {
    replace(due);
    return;
  }
  let badge = null;
  if (r.month === thisMonth()) {
    const days = daysBetween(today(), r.due_on);
    const [key, cls] = days > 1 ? ['complaints.due_in', 'neutral'] : days === 1 ? ['complaints.due_tomorrow', 'warn']
      : days === 0 ? ['complaints.due_today', 'warn'] : ['complaints.due_passed', 'bad'];
    badge = h('span', { class: `badge ${cls}` }, msg(key, { n: Math.abs(days) }));
  }
  replace(due, msg('complaints.due', { date: r.due_on }), ' ', badge);
}

function render() {
  const r = state.report;
  $('#summary-title').textContent = r ? msg('complaints.month_title', { month: r.month }) : msg('complaints.heading');
  replace($('#counts'), r ? h('span', { class: 'badge neutral', id: 'total' }, msg('complaints.count', { n: r.total })) : []);
  renderDue();
  const empty = Boolean(r) && r.total === 0;
  $('#empty').hidden = !empty;
  $('#empty').textContent = r ? msg('complaints.empty', { month: r.month }) : '';
  $('#tables').hidden = !r || empty;
  $('#xlsx').disabled = !r;
  $('#csv').disabled = !r;
  if (!r || empty) return;
  summaryTable($('#by-class'), 'classification', ordered(group(r.rows, 'classification'), CLASS_ORDER), classLabel);
  summaryTable($('#by-department'), 'department', ordered(group(r.rows, 'department'), DEPARTMENTS), departmentLabel);
  summaryTable($('#by-building'), 'building', ordered(group(r.rows, 'building'), [...estateBuildings(), NO_BUILDING]), place);
  detailTable();
}

// ---- loading --------------------------------------------------------------------------------

const month = () => $('#month').value || thisMonth();

function query(format, which = month()) {
  const params = new URLSearchParams({ month: which });
  if (format) params.set('format', format);
  return `/api/reports/complaints?${params}`;
}

async function load() {
  const ticket = ++state.loading;
  const status = $('#status');
  clearStatus(status, msg('report.loading'));
  try {
    const report = await get(query());
    if (ticket !== state.loading) return;  // a newer request answered first
    state.report = report;
    clearStatus(status);
    render();
  } catch (error) {
    if (ticket === state.loading) showProblem(error, status);
  }
}

function wire() {
  $('#filters').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  $('#month').addEventListener('change', () => { if ($('#month').value) load(); });
  // The file is the month on screen (the picker may have moved on while it loads).
  const shown = () => (state.report ? state.report.month : month());
  const status = $('#status');
  downloadButton($('#xlsx'), status, () => query('xlsx', shown()), () => `complaints-${shown()}.xlsx`);
  downloadButton($('#csv'), status, () => query('csv', shown()), () => `complaints-${shown()}.csv`);
}

async function main() {
  wire();
  if (!(await startPage(render))) return;
  try {
    await loadEstate();  // building names and the estate's time zone (which month it is)
  } catch (error) {
    showProblem(error, $('#status'));
    if (error.status === 401 || error.status === 403) return;
  }
  $('#month').value = thisMonth();
  render();
  await load();
}

main();
