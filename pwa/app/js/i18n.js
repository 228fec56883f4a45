// Simplified Chinese and English: the browser's language decides, the specialist can switch.
const SUPPORTED = ["zh-CN", "en"];
let strings = {};
export let lang = "zh-CN";

export function pick(saved) {
  if (SUPPORTED.includes(saved)) return saved;
  const wanted = (navigator.languages || [navigator.language || "zh-CN"]).map((l) => l.toLowerCase());
  for (const l of wanted) {
    if (l.startsWith("zh")) return "zh-CN";
    if (l.startsWith("en")) return "en";
  }
  return "zh-CN";
}

export async function load(choice) {
  lang = choice;
  strings = await (await fetch(new URL(`../i18n/${lang}.json`, import.meta.url))).json();
  document.documentElement.lang = lang;
}

export function t(key, vars = {}) {
  const s = strings[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

// The estate's time zone (GET /api/estate), as on the desk: a phone set to another zone still
// shows the estate's wall clock. Undefined until known: the phone's own zone.
export let zone;

export function setTimeZone(name) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    zone = name;
  } catch {
    console.warn("unknown time zone", name);
  }
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZone: zone });
}

// A template or checkpoint field in the current language.
export function local(obj) {
  return lang === "en" ? obj.en : obj.zh;
}
