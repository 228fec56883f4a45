// The page's frame: the clock, the connection badge and banner, toasts and screen-reader news.

import { refreshAll } from './countdown.js';
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { fmtClock, fmtDate } from './time.js';

export function announce(text) {
  const el = $('#announcer');
  el.textContent = '';
  requestAnimationFrame(() => { el.textContent = text; });
}

export function toast(text, kind = 'ok') {
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  $('#toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

export function renderConnection(state, info = {}) {
  document.body.dataset.connection = state;
  const badge = $('#connection');
  const key = state === 'live' ? 'connection.live' : state === 'stopped' ? 'connection.stopped'
    : (state === 'connecting' && !info.attempt) ? 'connection.connecting' : 'connection.reconnecting';
  badge.textContent = t(key);
  badge.dataset.state = state;
  const banner = $('#reconnect-banner');
  const lost = state === 'waiting' || (state === 'connecting' && info.attempt > 0);
  banner.hidden = !lost;
  if (lost) {
    $('#reconnect-text').textContent = state === 'waiting'
      ? t('connection.banner_wait', { s: Math.round((info.delay || 0) / 1000) }) : t('connection.banner_trying');
  }
}

export function tick() {
  const now = Date.now();
  $('#clock-time').textContent = fmtClock(now);
  $('#clock-date').textContent = fmtDate(now);
  refreshAll();
}
