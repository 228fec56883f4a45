// Constants of the desk: API values (never shown as text: labels come from i18n/*.json).

// The estate's zone until GET /api/estate says otherwise (estate.js); the server stores UTC
// (docs/mqtt-v1.md) and every screen shows the site's time.
export const SITE_TIME_ZONE = 'Asia/Shanghai';

// Statuses in which a ticket still needs someone (server ACTIVE_STATUSES).
export const ACTIVE_STATUSES = ['new', 'acknowledged', 'dispatched', 'on_site'];

export const TICKET_KINDS = ['alarm', 'repair', 'complaint', 'help', 'callback', 'patrol_defect',
  'rectification', 'device_offline'];
export const REQUEST_KINDS = ['repair', 'complaint', 'help'];
export const REQUEST_SOURCES = ['phone', 'walk_in', 'intercom'];
export const SEVERITIES = ['critical', 'high', 'normal', 'low'];
export const DEVICE_KINDS = ['elevator', 'intercom', 'meter', 'access', 'sensor'];
export const DEPARTMENTS = ['customer_service', 'engineering', 'security', 'cleaning', 'greening', 'finance'];
// "invalid" is left out: only a supervisor may confirm it, after the fact (domain.md).
export const COMPLAINT_CLASSES = ['minor', 'important', 'major', 'unresolvable'];
export const SUPERVISOR_ONLY_CLASS = 'invalid';
export const SATISFACTION = [5, 4, 3, 2, 1];  // 1–2: not satisfied, the ticket goes back (domain.md)
// Who may change the working calendar (server/calendar/routes.py EDITORS).
export const CALENDAR_EDITORS = ['admin', 'supervisor'];

export const STORAGE = {
  token: 'fieldops.desk.token',
  user: 'fieldops.desk.user',
  lang: 'fieldops.desk.lang',
};

export const CLIENT_LABEL = 'desk';  // X-Fieldops-Client: recorded in each ticket's audit trail

// SSE reconnect backoff and the watchdog: the server sends a keep-alive every 15 s when idle.
export const BACKOFF_MS = [1000, 2000, 4000, 8000, 10000];
export const STREAM_SILENCE_MS = 40000;
export const RESYNC_EVERY_MS = 10 * 60 * 1000;
// "Last heard" arrives in the stream's `seen` events every few seconds; this full reload of the
// device board is only a backstop while the devices tab is open.
export const DEVICE_REFRESH_MS = 5 * 60 * 1000;
