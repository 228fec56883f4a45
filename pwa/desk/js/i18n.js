// Every visible string comes from i18n/<lang>.json; the browser's language decides (zh-* → 简体中文).

import { STORAGE } from './config.js';

export const LANGUAGES = ['zh-CN', 'en'];
let strings = {};
let current = 'zh-CN';
let bundle = ''; // a page of its own (patrols.html, the reports) adds i18n/<bundle>.<lang>.json
const listeners = new Set();

/** Strings of another page: i18n/<name>.<lang>.json laid over the desk's own i18n/<lang>.json, so the
 * page shares the desk's words for kinds, statuses, clocks and errors (errors.js) and overrides the rest. */
export function useBundle(name) {
  bundle = `${name}.`;
}

export function detectLanguage() {
  const saved = localStorage.getItem(STORAGE.lang);
  if (LANGUAGES.includes(saved)) return saved;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    if (!tag) continue;
    if (tag.toLowerCase().startsWith('zh')) return 'zh-CN';
    if (tag.toLowerCase().startsWith('en')) return 'en';
  }
  return 'en';
}

export async function setLanguage(lang, { remember = false } = {}) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  const files = bundle ? [`i18n/${lang}.json`, `i18n/${bundle}${lang}.json`] : [`i18n/${lang}.json`];
  const loaded = await Promise.all(files.map(async (file) => {
    const response = await fetch(file, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`${file}: ${response.status}`);
    return response.json();
  }));
  strings = Object.assign({}, ...loaded);
  current = lang;
  if (remember) localStorage.setItem(STORAGE.lang, lang);
  document.documentElement.lang = lang;
  translateStatic(document);
  for (const listener of listeners) listener(lang);
}

export function language() {
  return current;
}

export function onLanguage(listener) {
  listeners.add(listener);
}

/** The string for `key`, with {name} placeholders filled; the key itself if it is missing. */
export function t(key, params) {
  let text = strings[key];
  if (text === undefined) {
    console.warn('i18n: missing', key);
    text = key;
  }
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

/** A label that may not exist (an event type the server learned later): null when missing. */
export function tMaybe(key, params) {
  return key in strings ? t(key, params) : null;
}

/** Fill the static markup: data-i18n (text), data-i18n-placeholder, -title, -aria-label. */
export function translateStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
  const title = root.querySelector('title[data-i18n]');
  if (title) document.title = title.textContent;
}
