// Times in the site's zone, 24-hour; durations for SLA countdowns.

import { SITE_TIME_ZONE } from './config.js';
import { language, t } from './i18n.js';

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
    const options = { timeZone: SITE_TIME_ZONE, hourCycle: 'h23' };
    if (kind === 'time') Object.assign(options, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    if (kind === 'short') Object.assign(options, { hour: '2-digit', minute: '2-digit' });
    if (kind === 'datetime') {
      Object.assign(options, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    }
    if (kind === 'full') {
      Object.assign(options, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    if (kind === 'date') Object.assign(options, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' });
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

/** "17:26" today in the site's zone, else "11-25 17:26". */
export function fmtWhen(value, now = Date.now()) {
  const ms = typeof value === 'number' ? value : parseTime(value);
  if (ms === null) return '';
  const sameDay = format('date').format(ms) === format('date').format(now);
  return sameDay ? format('short').format(ms) : format('datetime').format(ms);
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
