// The compliance page's strings: i18n/patrols.<lang>.json, chosen like the desk's (saved choice,
// then the browser's languages; zh-* → 简体中文). The desk's i18n.js loads only its own file.

import { STORAGE } from './config.js';

export const LANGUAGES = ['zh-CN', 'en'];
let strings = {};
let current = 'zh-CN';

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

/** Load a language and translate the static markup; `remember` keeps the choice (the desk shares it). */
export async function loadLanguage(lang, { remember = false } = {}) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  const response = await fetch(`i18n/patrols.${lang}.json`, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`i18n/patrols.${lang}.json: ${response.status}`);
  strings = await response.json();
  current = lang;
  if (remember) localStorage.setItem(STORAGE.lang, lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = msg(el.dataset.i18n);
  const title = document.querySelector('title[data-i18n]');
  if (title) document.title = title.textContent;
}

export function language() {
  return current;
}

/** The string for `key` with {name} placeholders filled; the key itself when missing. */
export function msg(key, params) {
  let text = strings[key];
  if (text === undefined) {
    console.warn('i18n: missing', key);
    text = key;
  }
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}
