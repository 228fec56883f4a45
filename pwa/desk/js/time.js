// Times in the site's zone (GET /api/estate), 24-hour; durations for SLA countdowns.

import { SITE_TIME_ZONE } from './config.js';
import { language, t } from './i18n.js';

let zone = SITE_TIME_ZONE;

/** Show every time in this IANA zone from now on (the estate's, whatever the PC's own is). */
export function setTimeZone(name) {
  if (!name || name === zone) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
  } catch {
    console.warn('unknown time zone', name);
    return false;
  }
  zone = name;
  formats.clear();
  return true;
}

export function timeZone() {
  return zone;
}

/** Milliseconds since the epoch from the server's ISO 8601 (microseconds are trimmed). */
export function parseTime(value) {
  if (!value) return null;
  const trimmed = String(value).replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? null : ms;
}

const formats = new Map();
function format(kind) {
  const key = `${language()}|${kind}`;
  if (!formats.has(key)) {
    const options = { timeZone: zone, hourCycle: 'h23' };
    if (kind === 'time') Object.assign(options, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    if (kind === 'short') Object.assign(options, { hour: '2-digit', minute: '2-digit' });
    if (kind === 'datetime') {
      Object.assign(options, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    }
    if (kind === 'yeardatetime') {
      Object.assign(options, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    }
    if (kind === 'full') {
      Object.assign(options, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    if (kind === 'date') Object.assign(options, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' });
    if (kind === 'monthday') Object.assign(options, { month: '2-digit', day: '2-digit' });
    if (kind === 'yearmonthday') Object.assign(options, { year: 'numeric', month: '2-digit', day: '2-digit' });
    formats.set(key, new Intl.DateTimeFormat(language() === 'zh-CN' ? 'zh-CN' : 'en-GB', options));
  }
  return formats.get(key);
}

export function fmtClock(ms) {
  return format('time').format(ms);
}

export function fmtDate(ms) {
  return format('date').format(ms);
}

/** "17:26" today in the site's zone, "11-25 17:26" this year, else with the year (a promise
 * made for next January must not read as last January). */
export function fmtWhen(value, now = Date.now()) {
  const ms = typeof value === 'number' ? value : parseTime(value);
  if (ms === null) return '';
  if (format('date').format(ms) === format('date').format(now)) return format('short').format(ms);
  return fieldsIn(ms).year === fieldsIn(now).year ? format('datetime').format(ms) : format('yeardatetime').format(ms);
}

/** A deadline, to the minute. One at the stroke of midnight is shown as 24:00 of the day before
 * ("12/02 24:00"): a working-day limit ends with its last day, and "12/03 00:00" reads as the 3rd. */
export function fmtDeadline(value, now = Date.now()) {
  const ms = typeof value === 'number' ? value : parseTime(value);
  if (ms === null) return '';
  const at = fieldsIn(ms);
  if (at.hour === '00' && at.minute === '00' && at.second === '00') {
    const lastDay = ms - 1000;
    const sameYear = fieldsIn(lastDay).year === fieldsIn(now).year;
    return `${format(sameYear ? 'monthday' : 'yearmonthday').format(lastDay)} 24:00`;
  }
  const sameYear = at.year === fieldsIn(now).year;
  return format(sameYear ? 'datetime' : 'yeardatetime').format(ms);
}

/** The date in the estate's zone, "2026-11-27" (the server's calendar is in local dates). */
export function siteDay(ms = Date.now()) {
  const { year, month, day } = fieldsIn(ms);
  return `${year}-${month}-${day}`;
}

export function fmtWhenFull(value) {
  const ms = typeof value === 'number' ? value : parseTime(value);
  return ms === null ? '' : format('full').format(ms);
}

/** A countdown: "4:05", "1:02:03", or "2d 3h" (localised) for long windows. */
export function fmtDuration(seconds) {
  const s = Math.floor(Math.abs(seconds));
  const days = Math.floor(s / 86400);
  if (days >= 1) return t('duration.days_hours', { d: days, h: Math.floor((s % 86400) / 3600) });
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** "3 min ago" style, for last-seen and alarm age. */
export function fmtAgo(value, now = Date.now()) {
  const ms = typeof value === 'number' ? value : parseTime(value);
  if (ms === null) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return t('ago.seconds', { n: s });
  if (s < 3600) return t('ago.minutes', { n: Math.floor(s / 60) });
  if (s < 86400) return t('ago.hours', { n: Math.floor(s / 3600) });
  return t('ago.days', { n: Math.floor(s / 86400) });
}

// ---- <input type="datetime-local"> in the site's zone ------------------------------------------

function fieldsIn(ms) {
  const parts = {};
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric',
    month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  for (const part of format.formatToParts(ms)) parts[part.type] = part.value;
  return parts;
}

/** The zone's offset from UTC at an instant, in minutes (Shanghai: +480). */
function offsetAt(ms) {
  const p = fieldsIn(ms);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/** "2026-11-27T10:00" in the site's zone, for a datetime-local input's value or min. */
export function siteInputValue(ms) {
  const p = fieldsIn(ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour === '24' ? '00' : p.hour}:${p.minute}`;
}

/** A datetime-local value read as the site's wall clock → ISO 8601 with its offset, or null. */
export function siteInputToIso(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || '');
  if (!match) return null;
  const [, y, mo, d, h, mi] = match.map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  // The offset at the wall time, corrected once for a DST change in between (China has none).
  let offset = offsetAt(wall - offsetAt(wall) * 60000);
  offset = offsetAt(wall - offset * 60000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, '0');
  return `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
