// The supervisor's patrol compliance page (/desk/patrols.html): due, done and missed patrols per
// building and specialist, the missed checkpoint-periods, and the phones that have gone quiet.
// It reuses the desk's login (api.js keeps the token); without one it sends the user to the desk.

import { ApiError, currentUser, request, token } from './api.js';
import { SITE_TIME_ZONE } from './config.js';
import { $, h, replace } from './dom.js';
import { download } from './patrols_csv.js';
import { detectLanguage, language, setLanguage, t as msg, useBundle } from './i18n.js';
import { renderReportNav } from './report_nav.js';

useBundle('patrols');

const KINDS = ['vacant_unit', 'renovation_unit', 'public_area'];

const state = {
  report: null,  // ComplianceReport
  phones: null,  // [DeviceSyncRead]
  building: '',
  specialist: '',
  drill: null,  // building slug shown in the drill-down
  drillKind: '',
  loading: 0,
};

// ---- dates in the site's time zone ----------------------------------------------------------

function parts(value, timeZone) {
  const out = {};
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  for (const p of format.formatToParts(new Date(value))) out[p.type] = p.value;
  return out;
}

const zone = () => (state.report && state.report.timezone) || SITE_TIME_ZONE;

function localDay(value) {
  const p = parts(value, zone());
  return `${p.year}-${p.month}-${p.day}`;
}

function localTime(value) {
  const p = parts(value, zone());
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A day, a week (first – last day) or a whole month, as the site's calendar sees it. */
function periodLabel(start, end) {
  const first = localDay(start);
  const last = localDay(new Date(new Date(end).getTime() - 1));
  if (first === last) return first;
  const afterLast = localDay(end);
  if (first.endsWith('-01') && afterLast.endsWith('-01') && first.slice(0, 7) === last.slice(0, 7)) return first.slice(0, 7);
  return `${first} – ${last}`;
}

function ago(value) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(value).getTime()) / 60000));
  if (minutes < 1) return msg('time.just_now');
  if (minutes < 60) return msg('time.minutes_ago', { n: minutes });
  if (minutes < 48 * 60) return msg('time.hours_ago', { n: Math.floor(minutes / 60) });
  return msg('time.days_ago', { n: Math.floor(minutes / 1440) });
}

function thisMonth() {
  const p = parts(Date.now(), SITE_TIME_ZONE);
  return `${p.year}-${p.month}`;
}

// ---- what the table shows ---------------------------------------------------------------------

const rate = (done, due) => (due ? `${Math.floor((done / due) * 1000) / 10}%` : '—');
const kindLabel = (kind) => (KINDS.includes(kind) ? msg(`kind.${kind}`) : kind);
const personName = (p) => (p.display_name ? `${p.display_name} (${p.username})` : p.username);

function visibleBuildings() {
  const all = state.report ? state.report.buildings : [];
  return state.building ? all.filter((b) => b.building === state.building) : all;
}

/** One row per building and specialist: the building's numbers go with its own specialists. */
function rows() {
  const out = [];
  for (const b of visibleBuildings()) {
    const assigned = b.specialists.filter((s) => s.assigned);
    const people = [...assigned, ...b.specialists.filter((s) => !s.assigned)];
    if (!assigned.length && !state.specialist) out.push({ building: b, person: null, answers: true });
    for (const person of people) {
      if (state.specialist && person.username !== state.specialist) continue;
      out.push({ building: b, person, answers: person.assigned });
    }
  }
  return out;
}

function specialists() {
  const seen = new Map();
  for (const b of state.report ? state.report.buildings : []) {
    for (const s of b.specialists) if (!seen.has(s.username)) seen.set(s.username, s);
  }
  return [...seen.values()].sort((a, b) => a.username.localeCompare(b.username));
}

// Each cell carries its column's name: on a phone the tables turn into cards (patrols.css).
function cell(label, cls, ...children) {
  return h('td', { class: cls || null, 'data-label': label }, h('span', { class: 'value' }, ...children));
}

function headCell(label, ...children) {
  return h('th', { scope: 'row', 'data-label': label }, h('span', { class: 'value' }, ...children));
}

const num = (label, value, cls = '') => cell(label, `num ${cls}`.trim(), value);
const none = (label) => num(label, '—', 'muted');

function openCell(b) {
  if (!b.open_required) return none(msg('col.open'));
  return cell(msg('col.open'), 'num', msg('row.open', { done: b.open_done, required: b.open_required }),
    b.overdue ? h('span', { class: 'overdue' }, msg('row.overdue', { n: b.overdue })) : null);
}

function renderTable() {
  const body = $('#compliance tbody');
  const foot = $('#compliance tfoot');
  const list = rows();
  if (!state.report) {
    replace(body);
    replace(foot);
    return;
  }
  if (!list.length) {
    replace(body, h('tr', {}, h('td', { colspan: 12, class: 'empty' }, msg('report.empty'))));
    replace(foot);
    return;
  }
  const c = (key) => msg(`col.${key}`);
  replace(body, list.map(({ building: b, person, answers }) => {
    const missed = answers && b.missed > 0;
    const mine = (key) => (person ? num(c(key), person[key], key === 'flags' && person.flags ? 'flagged' : '') : none(c(key)));
    return h('tr', { class: missed ? 'has-missed' : '', dataset: { building: b.building, specialist: person ? person.username : '' } },
      headCell(c('building'), b.name, h('span', { class: 'sub' }, b.building)),
      cell(c('specialist'), '', person ? personName(person) : h('span', { class: 'muted' }, msg('row.unassigned')),
        person && !person.assigned ? h('span', { class: 'sub' }, msg('row.helper')) : null),
      answers ? num(c('due'), b.due) : none(c('due')),
      answers ? num(c('done'), b.done) : none(c('done')),
      answers ? num(c('missed'), b.missed, missed ? 'missed' : 'ok') : none(c('missed')),
      answers ? num(c('rate'), rate(b.done, b.due), missed ? 'missed' : '') : none(c('rate')),
      answers ? openCell(b) : none(c('open')),
      person ? num(c('own_runs'), person.runs) : none(c('own_runs')),
      mine('counted'), mine('defects'), mine('flags'),
      // The button counts checkpoint-periods that ended short, the Missed column patrols short.
      h('td', { class: 'action' }, h('button', {
        class: `button small ${b.missed ? 'warn' : ''}`.trim(), type: 'button', 'data-drill': b.building,
        title: b.missed ? msg('row.show_missed_hint') : null, onclick: () => openDrill(b.building),
      }, b.missed ? msg('row.show_missed', { n: b.missed_periods.length }) : msg('row.no_missed'))));
  }));
  const buildings = [...new Set(list.filter((r) => r.answers).map((r) => r.building))];
  const sum = (items, pick) => items.reduce((n, item) => n + pick(item), 0);
  const people = list.filter((r) => r.person).map((r) => r.person);
  const total = { due: sum(buildings, (b) => b.due), done: sum(buildings, (b) => b.done) };
  total.missed = sum(buildings, (b) => b.missed);
  const open = { open_required: sum(buildings, (b) => b.open_required), open_done: sum(buildings, (b) => b.open_done),
    overdue: sum(buildings, (b) => b.overdue) };
  replace(foot, h('tr', {},
    h('th', { scope: 'row', colspan: 2 }, msg('row.total')),
    num(c('due'), total.due), num(c('done'), total.done), num(c('missed'), total.missed, total.missed ? 'missed' : 'ok'),
    num(c('rate'), rate(total.done, total.due)), openCell(open),
    num(c('own_runs'), sum(people, (p) => p.runs)), num(c('counted'), sum(people, (p) => p.counted)),
    num(c('defects'), sum(people, (p) => p.defects)), num(c('flags'), sum(people, (p) => p.flags)), h('td')));
}

function fillSelect(select, options, value) {
  replace(select, options.map(([v, label]) => h('option', { value: v }, label)));
  select.value = options.some(([v]) => v === value) ? value : '';
}

function renderFilters() {
  const buildings = state.report ? state.report.buildings : [];
  fillSelect($('#building'), [['', msg('filters.all_buildings')], ...buildings.map((b) => [b.building, b.name])], state.building);
  fillSelect($('#specialist'), [['', msg('filters.all_specialists')], ...specialists().map((s) => [s.username, personName(s)])],
    state.specialist);
  state.building = $('#building').value;
  state.specialist = $('#specialist').value;
  $('#csv').disabled = !state.report;
}

function renderRange() {
  const r = state.report;
  $('#range').textContent = r ? msg('report.range', {
    from: localDay(r.since), to: localDay(new Date(new Date(r.until).getTime() - 1)), tz: r.timezone, now: localTime(r.now),
  }) : '';
}

// ---- drill-down: the missed checkpoint-periods of one building ------------------------------------

function openDrill(slug) {
  state.drill = slug;
  state.drillKind = '';
  renderDrill();
  $('#drill').scrollIntoView({ block: 'start' });
  $('#drill-title').focus({ preventScroll: true });
}

function drillBuilding() {
  return state.report && state.drill ? state.report.buildings.find((b) => b.building === state.drill) : null;
}

function floorLabel(floor) {
  return floor === null || floor === undefined ? msg('drill.whole_building') : msg('drill.floor_n', { n: floor });
}

function renderDrill() {
  const b = drillBuilding();
  $('#drill').hidden = !b;
  if (!b) return;
  $('#drill-title').textContent = msg('drill.title', { building: b.name });
  const c = (key) => msg(`col.${key}`);
  replace($('#drill-kinds tbody'), b.kinds.map((k) => h('tr', { class: k.missed ? 'has-missed' : '' },
    headCell(msg('drill.kind'), kindLabel(k.kind)), num(c('due'), k.due), num(c('done'), k.done),
    num(c('missed'), k.missed, k.missed ? 'missed' : 'ok'), num(c('rate'), rate(k.done, k.due)), openCell(k))));
  fillSelect($('#drill-kind'), [['', msg('drill.all_kinds')], ...b.kinds.map((k) => [k.kind, kindLabel(k.kind)])], state.drillKind);
  const missed = b.missed_periods.filter((m) => !state.drillKind || m.kind === state.drillKind);
  $('#drill-count').textContent = missed.length ? msg('drill.periods', { n: missed.length }) : msg('drill.none');
  const byCheckpoint = new Map();
  for (const m of missed) {
    if (!byCheckpoint.has(m.checkpoint_id)) byCheckpoint.set(m.checkpoint_id, []);
    byCheckpoint.get(m.checkpoint_id).push(m);
  }
  replace($('#drill-list'), [...byCheckpoint.values()].map((periods) => {
    const first = periods[0];
    return h('details', { class: 'checkpoint', dataset: { checkpoint: first.slug } },
      h('summary', {},
        h('strong', {}, first.label),
        h('span', { class: 'tag' }, kindLabel(first.kind)),
        h('span', { class: 'muted' }, floorLabel(first.floor)),
        h('span', { class: 'missed' }, msg('drill.periods', { n: periods.length }))),
      h('table', { class: 'report compact' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, msg('drill.period')),
          h('th', { scope: 'col', class: 'num' }, msg('drill.done')),
          h('th', { scope: 'col' }, msg('drill.last')))),
        h('tbody', {}, periods.map((m) => h('tr', {},
          h('td', {}, periodLabel(m.period_start, m.period_end)),
          h('td', { class: 'num missed' }, `${m.done}/${m.required}`),
          h('td', {}, m.last_at ? localTime(m.last_at) : msg('drill.never')))))));
  }));
}

// ---- phones ----------------------------------------------------------------------------------

function renderPhones() {
  const r = state.report;
  const hours = r ? r.stale_device_hours : 4;
  const skew = r ? r.clock_skew_seconds : null;
  $('#phones-note').textContent = msg('phones.note', { hours, seconds: skew ?? '—' });
  const phones = [...(state.phones || [])].sort((a, b) => (b.stale - a.stale) || a.last_sync_at.localeCompare(b.last_sync_at));
  $('#phones-empty').hidden = !state.phones || phones.length > 0;
  replace($('#phones tbody'), phones.map((p) => {
    const offset = p.clock_offset_s;
    const skewed = offset !== null && skew !== null && Math.abs(offset) > skew;
    const c = (key) => msg(`phones.${key}`);
    return h('tr', { class: p.stale ? 'stale' : '', dataset: { device: p.device_id } },
      headCell(c('device'), h('span', { class: 'mono' }, p.device_id)),
      cell(c('user'), '', p.user || c('unknown')),
      cell(c('version'), 'mono', p.app_version || c('unknown')),
      cell(c('last_sync'), '', localTime(p.last_sync_at), h('span', { class: 'sub' }, ago(p.last_sync_at))),
      num(c('offset'), offset === null ? c('unknown') : msg('phones.offset_s', { s: `${offset > 0 ? '+' : ''}${Math.round(offset)}` }),
        skewed ? 'flagged' : ''),
      num(c('items'), p.items_synced),
      cell(c('status'), '', h('span', { class: `badge ${p.stale ? 'bad' : 'good'}` },
        p.stale ? msg('phones.stale', { hours }) : msg('phones.ok')),
      skewed ? h('span', { class: 'badge warn' }, msg('phones.skewed')) : null));
  }));
}

function render() {
  renderFilters();
  renderRange();
  renderTable();
  renderDrill();
  renderPhones();
}

// ---- CSV -------------------------------------------------------------------------------------

function periodName() {
  const r = state.report;
  const first = localDay(r.since);
  const last = localDay(new Date(new Date(r.until).getTime() - 1));
  return periodLabel(r.since, r.until) === first.slice(0, 7) ? first.slice(0, 7) : `${first}_${last}`;
}

function reportCsv() {
  const header = [msg('col.building'), msg('col.building'), msg('col.specialist'), msg('col.specialist'),
    msg('col.due'), msg('col.done'), msg('col.missed'), msg('col.rate'), msg('col.open'), msg('row.overdue', { n: '' }).trim(),
    msg('col.own_runs'), msg('col.counted'), msg('col.defects'), msg('col.flags')];
  const lines = rows().map(({ building: b, person, answers }) => [
    b.building, b.name, person ? person.username : '', person ? person.display_name : msg('row.unassigned'),
    answers ? b.due : '', answers ? b.done : '', answers ? b.missed : '', answers ? rate(b.done, b.due) : '',
    answers ? `${b.open_done}/${b.open_required}` : '', answers ? b.overdue : '',
    person ? person.runs : '', person ? person.counted : '', person ? person.defects : '', person ? person.flags : '']);
  download(`patrols-${periodName()}.csv`, [header, ...lines]);
}

function drillCsv() {
  const b = drillBuilding();
  if (!b) return;
  const header = [msg('col.building'), msg('drill.checkpoint'), msg('drill.checkpoint'), msg('drill.kind'), msg('drill.floor'),
    msg('drill.period'), msg('col.due'), msg('col.done'), msg('drill.last')];
  const lines = b.missed_periods.filter((m) => !state.drillKind || m.kind === state.drillKind).map((m) => [
    b.name, m.slug, m.label, kindLabel(m.kind), m.floor ?? '', periodLabel(m.period_start, m.period_end),
    m.required, m.done, m.last_at ? localTime(m.last_at) : '']);
  download(`patrols-missed-${b.building}-${periodName()}.csv`, [header, ...lines]);
}

// ---- loading ---------------------------------------------------------------------------------

function query() {
  const mode = $('#filters').elements.mode.value;
  const params = new URLSearchParams();
  if (mode === 'range' && $('#first').value && $('#last').value) {
    params.set('first', $('#first').value);
    params.set('last', $('#last').value);
  } else {
    params.set('month', $('#month').value || thisMonth());
  }
  return params;
}

function showProblem(error) {
  if (error instanceof ApiError && error.status === 401) return signIn('auth.expired');
  if (error instanceof ApiError && error.status === 403) {
    $('#main').hidden = true;
    $('#denied').hidden = false;
    return null;
  }
  const status = $('#status');
  status.textContent = msg('report.error', { detail: error.message });
  status.className = 'status error';
  return null;
}

async function load() {
  const ticket = ++state.loading;
  const status = $('#status');
  status.textContent = msg('report.loading');
  status.className = 'status';
  try {
    const [report, phones] = await Promise.all([
      request('GET', `/api/patrols/compliance?${query()}`), request('GET', '/api/patrols/devices')]);
    if (ticket !== state.loading) return;  // a newer request answered first
    state.report = report;
    state.phones = phones;
    if (state.drill && !report.buildings.some((b) => b.building === state.drill)) state.drill = null;
    status.textContent = '';
    render();
  } catch (error) {
    if (ticket === state.loading) showProblem(error);
  }
}

function signIn(key) {
  $('#main').hidden = true;
  $('#signin').hidden = false;
  $('#signin-text').textContent = msg(key);
  return null;
}

function setMode(mode) {
  for (const el of document.querySelectorAll('[data-mode]')) el.hidden = el.dataset.mode !== mode;
  $('#first').required = mode === 'range';
  $('#last').required = mode === 'range';
  $('#month').required = mode === 'month';
}

function wire() {
  const form = $('#filters');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  for (const radio of form.elements.mode) radio.addEventListener('change', () => setMode(form.elements.mode.value));
  $('#month').addEventListener('change', () => { if ($('#month').value) load(); });
  $('#building').addEventListener('change', () => { state.building = $('#building').value; renderTable(); });
  $('#specialist').addEventListener('change', () => { state.specialist = $('#specialist').value; renderTable(); });
  $('#csv').addEventListener('click', reportCsv);
  $('#drill-csv').addEventListener('click', drillCsv);
  $('#drill-close').addEventListener('click', () => { state.drill = null; renderDrill(); });
  $('#drill-kind').addEventListener('change', () => { state.drillKind = $('#drill-kind').value; renderDrill(); });
  $('#lang-select').addEventListener('change', async () => {
    await setLanguage($('#lang-select').value, { remember: true });
    whoAmI();
    if (!$('#signin').hidden) $('#signin-text').textContent = msg(token() ? 'auth.expired' : 'auth.need_login');
    render();
  });
}

function whoAmI() {
  const user = currentUser();
  $('#who').textContent = user ? msg('auth.user', { name: user.display_name || user.username }) : '';
}

async function main() {
  renderReportNav();
  await setLanguage(detectLanguage());
  $('#lang-select').value = language();
  wire();
  if (!token()) return signIn('auth.need_login');
  whoAmI();
  $('#month').value = thisMonth();
  const today = parts(Date.now(), SITE_TIME_ZONE);
  $('#last').value = `${today.year}-${today.month}-${today.day}`;
  $('#first').value = `${today.year}-${today.month}-01`;
  setMode('month');
  $('#main').hidden = false;
  render();
  return load();
}

main();
