// The report pages' navigation, from one list: a new report page is one line here, not one more
// link in every page's markup. Each report page keeps an empty <nav class="report-nav">, the
// desk's header an empty <nav class="report-links">. Rendered before the language loads, which
// then labels the links.

import { h } from './dom.js';

const REPORT_PAGES = [
  ['clearing.html', 'nav.clearing'],
  ['complaints.html', 'nav.complaints'],
  ['patrols.html', 'nav.patrols'],
  ['calendar.html', 'nav.calendar'],
];

/** The report pages' own nav: full names, the current page marked. */
export function renderReportNav() {
  const nav = document.querySelector('nav.report-nav');
  if (!nav) return;
  const here = location.pathname.split('/').pop();
  nav.replaceChildren(...REPORT_PAGES.map(([href, key]) => h('a', {
    href, 'data-i18n': key, 'aria-current': href === here ? 'page' : null,
  })));
}

/** The desk header's compact group: short names, the full name as the tooltip. */
export function renderReportLinks() {
  const nav = document.querySelector('nav.report-links');
  if (!nav) return;
  nav.replaceChildren(...REPORT_PAGES.map(([href, key]) => h('a', {
    id: `nav-${href.replace('.html', '')}`, class: 'btn secondary', href,
    'data-i18n': `${key}_short`, 'data-i18n-title': key,
  })));
}
