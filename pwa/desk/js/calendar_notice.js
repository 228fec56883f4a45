// A reminder on the desk for those who keep the working calendar (admin, supervisor): a year whose
// public holidays and 调休 days are neither in the official data nor entered by hand. Until they are,
// working-day deadlines in it count Monday to Friday, so a complaint over Spring Festival comes out
// wrong. The calendar page says so too, but the admin opens the desk every day, not that page.

import { currentUser, get } from './api.js';
import { hasRole } from './actions.js';
import { CALENDAR_EDITORS } from './config.js';
import { $ } from './dom.js';
import { estateSlug } from './estate.js';
import { t } from './i18n.js';
import { siteDay } from './time.js';

// The State Council publishes next year's schedule in November or December.
const NEXT_YEAR_FROM_MONTH = 11;
const DISMISSED = 'fieldops.desk.calendar-notice-dismissed';  // per browser session, per year

let missingYear = null;  // the year the notice is about, or null
let checkedFor = null;   // user id + day: the calendar is asked once a day per user, not on every resync

async function undescribed(site, year) {
  const view = await get(`/api/calendar/${encodeURIComponent(site)}/${year}`);
  return !view.officially_covered && !view.days.some((day) => day.source === 'override');
}

/** Ask the server (once a day per user) whether this year, or next year from November, lacks its holidays. */
export async function checkCalendar(now = Date.now()) {
  const user = currentUser();
  const site = estateSlug();
  if (!user || !site || !hasRole(user, CALENDAR_EDITORS)) {
    missingYear = null;
    render();
    $('#calendar-notice').dataset.checked = 'not-an-editor';
    return;
  }
  const day = siteDay(now);
  const [year, month] = day.split('-').map(Number);
  if (checkedFor === `${user.id}|${day}`) return;
  try {
    let missing = null;
    if (await undescribed(site, year)) missing = year;
    else if (month >= NEXT_YEAR_FROM_MONTH && await undescribed(site, year + 1)) missing = year + 1;
    missingYear = missing;
    checkedFor = `${user.id}|${day}`;
    $('#calendar-notice').dataset.checked = day;  // tests wait for this rather than for a delay
  } catch (error) {
    console.warn('calendar notice', error);  // a reminder is not worth an error on the desk
    return;
  }
  render();
}

export function render() {
  const notice = $('#calendar-notice');
  const show = missingYear !== null && sessionStorage.getItem(DISMISSED) !== String(missingYear);
  notice.hidden = !show;
  if (!show) return;
  $('#calendar-notice-text').textContent = t('calendar_notice.text', { year: missingYear });
  const link = $('#calendar-notice-link');
  link.textContent = t('calendar_notice.open', { year: missingYear });
  link.href = `calendar.html#year=${missingYear}`;
}

export function wireCalendarNotice() {
  $('#calendar-notice-dismiss').addEventListener('click', () => {
    if (missingYear !== null) sessionStorage.setItem(DISMISSED, String(missingYear));
    render();
  });
}
