// Pieces the inbox and the ticket page share: elements, labels, the SLA countdown, the step
// buttons. Large touch targets; every label in zh-CN and en (i18n/*.json, `ticket.` keys).
import { kvGet } from "./db.js";
import { lang, t, zone } from "./i18n.js";
import { act, allowedActions, nextClock, parseTime } from "./inbox_store.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 8000 : 4000);
}

// ---- labels ---------------------------------------------------------------------------------
const label = (group, value) => {
  const key = `ticket.${group}.${value}`;
  const s = t(key);
  return s === key ? value : s; // an unknown kind from a newer server shows its code
};
export const kindLabel = (k) => label("kind", k);
export const statusLabel = (s) => label("status", s);
export const severityLabel = (s) => label("severity", s);
export const actionLabel = (a) => label("action", a);
export const clockLabel = (c) => label("clock", c);

export function place(ticket) {
  return [ticket.building, ticket.unit, ticket.device].filter(Boolean).join(" · ");
}

export function time(iso, withSeconds = false) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (ms == null) return "";
  return new Date(ms).toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined, hourCycle: "h23", timeZone: zone });
}

/** A deadline. One at the stroke of midnight is 24:00 of the day before: a working-day limit ends
 * with its last day, and "12/3 00:00" reads as a day more. */
export function deadline(iso) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (ms == null) return "";
  const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZone: zone }).format(ms);
  if (clock !== "00:00:00") return time(ms);
  return `${new Date(ms - 1000).toLocaleString(lang, { month: "numeric", day: "numeric", timeZone: zone })} 24:00`;
}

export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s >= 86400) return t("ticket.days_hours", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hh ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

// ---- SLA countdown --------------------------------------------------------------------------
let offsetMs = 0; // phone clock → server clock, refreshed whenever a countdown is drawn

export async function loadClockOffset() {
  offsetMs = (await kvGet("server_offset_ms")) || 0;
}

/** The clock that runs out next, counting down every second (data-sla-state ok|amber|red). */
export function countdown(view) {
  const next = nextClock(view, Date.now() + offsetMs);
  if (!next) return h("span", { class: "sla", "data-sla-state": "none" }, t("ticket.sla_none"));
  const el = h("span", { class: "sla", "data-due": String(next.due), "data-clock": next.clock,
    "data-window-start": String(parseTime(view.opened_at) ?? next.due) });
  fill(el, Date.now() + offsetMs);
  return el;
}

function fill(el, now) {
  const due = Number(el.dataset.due);
  const remaining = (due - now) / 1000;
  const window = Math.max(1, (due - Number(el.dataset.windowStart)) / 1000);
  let state = "ok";
  if (remaining < 0) state = "red";
  else if (remaining < 300 || remaining < window * 0.25) state = "amber";
  el.dataset.slaState = state;
  el.dataset.remainingS = String(Math.round(remaining));
  const clock = clockLabel(el.dataset.clock);
  el.textContent = remaining < 0 ? t("ticket.sla_overdue", { clock, time: duration(remaining) })
    : t("ticket.sla_left", { clock, time: duration(remaining), at: time(due) });
}

setInterval(() => {
  const now = Date.now() + offsetMs;
  for (const el of document.querySelectorAll(".sla[data-due]")) fill(el, now);
}, 1000);

// ---- state and step buttons -----------------------------------------------------------------
/** What the specialist sees as the ticket's state, with "(pending sync)" for local steps. */
export function stateLine(view) {
  const parts = [h("span", { class: `status st-${view.status}` }, statusLabel(view.status))];
  const pending = view.pending?.filter((s) => s.state === "pending") || [];
  if (pending.length) parts.push(h("span", { class: "pending-sync" }, t("ticket.pending_sync")));
  return h("div", { class: "state", "data-status": view.status, "data-pending": pending.map((s) => s.action).join(" ") },
    ...parts);
}

/** Notes under the state: an arrival not yet synced, an announcement, a refused step. */
export function notes(view) {
  const out = [];
  if (view.local_on_site_at) {
    out.push(h("p", { class: "note warn" }, t("ticket.arrive_pending", { t: time(view.local_on_site_at, true) })));
  }
  if (view.delay_announced_at) out.push(h("p", { class: "note" }, t("ticket.delay_announced", { t: time(view.delay_announced_at) })));
  else if (view.local_delay_announced_at) {
    out.push(h("p", { class: "note warn" }, t("ticket.delay_announced_pending", { t: time(view.local_delay_announced_at) })));
  }
  for (const step of view.pending || []) {
    if (step.state === "conflict" || step.state === "rejected") {
      out.push(h("p", { class: "error refused", role: "alert" }, t("ticket.refused", {
        action: actionLabel(step.action), status: step.error?.status ?? "", detail: step.error?.detail ?? "" })));
    }
  }
  return out;
}

/** The steps allowed now, as big buttons. `after` re-renders the caller's view. */
export function actionButtons(view, after) {
  const buttons = allowedActions(view).map((action) => h("button", {
    class: `act act-${action}${action === "arrive" ? " primary" : ""}`, "data-action": action, type: "button",
    onclick: async (e) => {
      e.stopPropagation();
      if (action === "resolve") { location.hash = `#/tickets/${view.id}/resolve`; return; }
      e.currentTarget.disabled = true;
      await act(view.id, action);
      toast(navigator.onLine ? t(`ticket.done.${action}`) : t("ticket.saved_offline"));
      after?.();
    },
  }, actionLabel(action)));
  return h("div", { class: "actions" }, ...buttons);
}
