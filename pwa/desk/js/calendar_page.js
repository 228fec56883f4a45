// 工作日历 (/desk/calendar.html): the site's public holidays and 调休 make-up working days, which
// every deadline counted in working days follows (重大投诉 3 个工作日内答复). The official schedule
// comes from the server (chinesecalendar); a year it lacks must be typed in from the State Council's
// notice by an admin or supervisor, one PUT per day (GET/PUT/DELETE /api/calendar/{site}/...).

import { hasRole } from './actions.js';
import { currentUser, get, request } from './api.js';
import { CALENDAR_EDITORS } from './config.js';
import { $, h, replace } from './dom.js';
import { errorText } from './errors.js';
import { estateSlug, loadEstate } from './estate.js';
import { language, t as msg, tMaybe } from './i18n.js';
import { clearStatus, showProblem, startPage } from './report_frame.js';
import { fmtWhen, siteDay } from './time.js';

// One holiday stretch at a time: the longest, Spring Festival, is 8–9 days; a month guards typos.
const MAX_RANGE_DAYS = 31;
const DAY_MS = 24 * 60 * 60 * 1000;
const FIRST_YEAR = 1900;  // the server's accepted years
const LAST_YEAR = 2200;

const state = {
  site: '',
  year: 0,
  view: null,  // CalendarYear on screen
  next: null,  // the following year's CalendarYear, for the hint on the current year
  loading: 0,
  saving: false,
  entry: null,  // the form's last outcome {key, params, error, kind} (re-worded on a language switch)
};

// ---- dates: plain YYYY-MM-DD strings, counted in UTC so no zone shifts a day ----------------------

const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);
const dayString = (ms) => new Date(ms).toISOString().slice(0, 10);
const isWeekend = (day) => [0, 6].includes(new Date(dayMs(day)).getUTCDay());

const currentYear = () => Number(siteDay().slice(0, 4));

function weekday(day) {
  const locale = language() === 'zh-CN' ? 'zh-CN' : 'en-GB';
  return new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' }).format(dayMs(day));
}

/** Every day from..to inclusive, or a message key saying why the range is refused. */
function rangeDays(from, to) {
  if (!from || !to) return { problem: 'calendar.check.dates' };
  if (from > to) return { problem: 'calendar.check.order' };
  const count = Math.round((dayMs(to) - dayMs(from)) / DAY_MS) + 1;
  if (count > MAX_RANGE_DAYS) return { problem: 'calendar.check.too_long', n: count };
  return { days: Array.from({ length: count }, (_, i) => dayString(dayMs(from) + i * DAY_MS)) };
}

const canEdit = () => hasRole(currentUser(), CALENDAR_EDITORS);

const statusText = (working) => msg(working ? 'calendar.work' : 'calendar.off');
const dayPath = (day) => `/api/calendar/${encodeURIComponent(state.site)}/days/${day}`;
const yearHref = (year) => `#year=${year}`;
const sub = (text) => h('span', { class: 'sub' }, text);

// ---- the year on screen -------------------------------------------------------------------------

function yearFromHash() {
  const match = /year=(\d{4})/.exec(location.hash);
  const year = match ? Number(match[1]) : NaN;
  return year >= FIRST_YEAR && year <= LAST_YEAR ? year : currentYear();
}

function renderYearBar() {
  const y = state.year;
  $('#year').textContent = msg('calendar.year', { year: y });
  const prev = $('#prev-year');
  prev.textContent = msg('calendar.prev', { year: y - 1 });
  prev.href = yearHref(y - 1);
  const next = $('#next-year');
  next.textContent = msg('calendar.next', { year: y + 1 });
  next.href = yearHref(y + 1);
  $('#this-year').href = yearHref(currentYear());
  $('#this-year').hidden = y === currentYear();
}

const overrides = (view) => (view ? view.days.filter((d) => d.source === 'override') : []);

/** Not in the official data: only weekends are days off until someone types the notice in. */
function renderBanner() {
  const view = state.view;
  const banner = $('#uncovered');
  banner.hidden = !view || view.officially_covered;
  if (banner.hidden) return;
  const entered = overrides(view);
  banner.dataset.state = entered.length ? 'partial' : 'empty';
  $('#uncovered-title').textContent = msg('calendar.uncovered_title', { year: view.year });
  $('#uncovered-body').textContent = msg('calendar.uncovered_body', { year: view.year });
  const line = $('#uncovered-entered');
  line.hidden = !entered.length;
  line.textContent = msg('calendar.uncovered_partial', {
    off: entered.filter((d) => !d.is_working).length, work: entered.filter((d) => d.is_working).length });
  $('#uncovered-who').hidden = canEdit();
}

/** On this year's page: next year's notice is due (published around November). */
function renderNextHint() {
  const next = state.next;
  const show = Boolean(next) && !next.officially_covered && state.year === currentYear() && next.year === state.year + 1;
  $('#next-hint').hidden = !show;
  if (!show) return;
  const n = overrides(next).length;
  $('#next-hint-text').textContent = n
    ? msg('calendar.next_hint_entered', { year: next.year, n }) : msg('calendar.next_hint', { year: next.year });
  const link = $('#next-hint-link');
  link.textContent = msg('calendar.next_hint_link', { year: next.year });
  link.href = yearHref(next.year);
}

/** The official names (春节, 国庆节调休上班) in the page's language, the Chinese kept beside them. */
function nameCell(row) {
  const name = row.name || '—';
  const worded = tMaybe(`holiday.${name}`);
  const note = row.note && row.note !== row.name ? row.note : null;
  return h('td', { class: 'name', 'data-label': msg('calendar.col_name') }, h('span', { class: 'value' },
    worded || name, worded && worded !== name ? sub(name) : null, note ? sub(note) : null));
}

function sourceCell(row) {
  if (row.source === 'official') return h('td', { class: 'source', 'data-label': msg('calendar.col_source') }, msg('calendar.source_official'));
  const status = row.official_is_working === null ? null : statusText(row.official_is_working);
  const officialName = row.official_name ? (tMaybe(`holiday.${row.official_name}`) || row.official_name) : null;
  const official = status === null ? msg('calendar.official_none')
    : officialName ? msg('calendar.official_was_named', { name: officialName, status })
      : msg('calendar.official_was', { status });
  return h('td', { class: 'source', 'data-label': msg('calendar.col_source') },
    h('span', { class: 'value' }, h('span', { class: 'tag override' }, msg('calendar.source_override')), sub(official)));
}

function rowFor(row, editor) {
  const label = (key) => msg(`calendar.col_${key}`);
  const weekend = isWeekend(row.day);
  return h('tr', { class: row.is_working ? 'day-work' : 'day-off',
    dataset: { day: row.day, working: String(row.is_working), source: row.source } },
  h('th', { scope: 'row', 'data-label': label('day') },
    h('span', { class: 'value' }, h('time', { datetime: row.day }, row.day), ' ',
      h('span', { class: weekend ? 'weekday weekend' : 'weekday' }, weekday(row.day)))),
  nameCell(row),
  h('td', { class: 'working', 'data-label': label('status') },
    h('span', { class: `badge ${row.is_working ? 'work' : 'off'}` }, statusText(row.is_working))),
  sourceCell(row),
  h('td', { class: 'edited', 'data-label': label('edited') }, row.source === 'override'
    ? h('span', { class: 'value' }, row.edited_by_name || row.edited_by || '—', row.edited_at ? sub(fmtWhen(row.edited_at)) : null) : '—'),
  editor ? h('td', { class: 'action', 'data-label': label('action') }, row.source === 'override'
    ? h('button', { class: 'button small warn remove', type: 'button', onclick: () => remove(row) }, msg('calendar.remove'))
    : null) : null);
}

function renderTable() {
  const view = state.view;
  const editor = canEdit();
  const days = view ? view.days : [];
  $('#days-title').textContent = msg('calendar.year_title', { year: state.year });
  for (const el of document.querySelectorAll('.editor-only')) el.hidden = !editor;
  replace($('#days tbody'), days.map((row) => rowFor(row, editor)));
  replace($('#counts'), view ? [
    h('span', { class: 'badge off', id: 'off-count' }, msg('calendar.count_off', { n: days.filter((d) => !d.is_working).length })),
    h('span', { class: 'badge work', id: 'work-count' }, msg('calendar.count_work', { n: days.filter((d) => d.is_working).length })),
  ] : []);
  const empty = Boolean(view) && days.length === 0;
  $('#days').hidden = empty;
  $('#empty').hidden = !empty;
  $('#empty').textContent = empty ? msg('calendar.empty', { year: state.year }) : '';
}

function renderEntry() {
  const editor = canEdit();
  $('#entry-card').hidden = !editor;
  $('#readonly').hidden = editor;
  const status = $('#entry-status');
  const entry = state.entry;
  if (!entry) return clearStatus(status);
  const params = entry.error ? { ...entry.params, message: errorText(entry.error) } : entry.params;
  status.textContent = msg(entry.key, params);
  status.className = `status ${entry.kind || ''}`;
  return null;
}

function render() {
  if (!state.year) return;  // the language switched before the estate loaded
  renderYearBar();
  renderBanner();
  renderNextHint();
  renderEntry();
  renderTable();
}

async function load() {
  const ticket = ++state.loading;
  const year = state.year;
  const status = $('#status');
  clearStatus(status, msg('report.loading'));
  try {
    // Next year only matters on this year's page (the hint); its failure must not hide this year.
    const [view, next] = await Promise.all([
      get(`/api/calendar/${encodeURIComponent(state.site)}/${year}`),
      year === currentYear() ? get(`/api/calendar/${encodeURIComponent(state.site)}/${year + 1}`).catch(() => null) : null,
    ]);
    if (ticket !== state.loading) return;  // the year changed while this one loaded
    state.view = view;
    state.next = next;
    clearStatus(status);
    render();
  } catch (error) {
    if (ticket === state.loading) showProblem(error, status, 'calendar.error');
  }
}

// ---- editing: a range, one PUT per day, stopping at the first refusal -------------------------------

function setEntry(key, params = {}, { error = null, kind = '' } = {}) {
  state.entry = { key, params, error, kind };
  renderEntry();
}

async function saveRange(event) {
  event.preventDefault();
  if (state.saving) return;
  const from = $('#from').value;
  const to = $('#to').value;
  const name = $('#name').value.trim();
  const working = new FormData($('#entry')).get('kind') === 'work';
  const range = rangeDays(from, to);
  // Refused before anything is sent: the admin fixes the form, nothing is half-done.
  if (range.problem) return setEntry(range.problem, { n: range.n }, { kind: 'error' });
  if (!name) {
    $('#name').focus();
    return setEntry('calendar.check.name', {}, { kind: 'error' });
  }
  const { days } = range;
  const progress = $('#entry-progress');
  state.saving = true;
  $('#entry').inert = true;
  progress.hidden = false;
  progress.max = days.length;
  progress.value = 0;
  let done = 0;
  let failure = null;
  try {
    for (const day of days) {
      setEntry('calendar.progress', { done, total: days.length });
      try {
        await request('PUT', dayPath(day), { is_working: working, note: name });
      } catch (error) {
        failure = { day, error };
        break;
      }
      done += 1;
      progress.value = done;
    }
  } finally {
    state.saving = false;
    $('#entry').inert = false;
    progress.hidden = true;
  }
  if (failure) {
    // In the form, not report_frame's sign-in notice: the admin must see where it stopped.
    setEntry('calendar.failed', { day: failure.day, done, total: days.length },
      { error: failure.error, kind: 'error' });
  } else {
    setEntry(days.length === 1 ? 'calendar.saved_one' : 'calendar.saved',
      { total: days.length, from, to, status: statusText(working), name }, { kind: 'done' });
  }
  // Show what was saved: the range's own year if none of it falls in the year on screen.
  if (done && !days.some((day) => day.startsWith(String(state.year)))) location.hash = yearHref(Number(from.slice(0, 4)));
  else if (done) await load();
  return null;
}

async function remove(row) {
  // After removal the day counts as the official schedule says, else Mon–Fri.
  const after = row.official_is_working ?? !isWeekend(row.day);
  const basis = msg(row.official_is_working === null ? 'calendar.basis_weekdays' : 'calendar.basis_official');
  if (!window.confirm(msg('calendar.remove_confirm', { day: row.day, name: row.name, status: statusText(after), basis }))) return;
  try {
    await request('DELETE', dayPath(row.day));
    setEntry('calendar.removed', { day: row.day, status: statusText(after) }, { kind: 'done' });
  } catch (error) {
    setEntry('calendar.remove_failed', { day: row.day }, { error, kind: 'error' });
  }
  await load();
  if (!$('#entry-card').hidden) $('#entry-status').scrollIntoView({ block: 'nearest' });
}

function wire() {
  $('#entry').addEventListener('submit', saveRange);
  // A single day is the common case (a 调休 Saturday): the end follows the start.
  $('#from').addEventListener('change', () => {
    const from = $('#from').value;
    if (from && (!$('#to').value || $('#to').value < from)) $('#to').value = from;
  });
  window.addEventListener('hashchange', () => {
    if (!state.site) return;  // not signed in, or the estate has not loaded: nothing to show yet
    state.year = yearFromHash();
    state.view = null;
    render();
    load();
  });
}

async function main() {
  wire();
  if (!(await startPage(render))) return;
  try {
    await loadEstate();  // the site's slug, and its time zone (which year it is there)
    state.site = estateSlug();
  } catch (error) {
    showProblem(error, $('#status'), 'calendar.error');
    return;
  }
  state.year = yearFromHash();
  render();
  await load();
}

main();
