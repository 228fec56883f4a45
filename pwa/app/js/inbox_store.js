// The dispatch inbox's data: the tickets assigned to me (cached in IndexedDB for offline
// viewing), the steps I took that are still in the outbox (shown optimistically), which steps
// the lifecycle lets a specialist take, and the SLA clock that runs out next.
// DOM-free. Every step is an outbox item of kind `ticket_action` (server/tickets/outbox.py):
// its UUID is the step's client action id and its device time is kept beside the server's.
import { all, get, kvGet, put } from "./db.js";
import { request } from "./api.js";
import * as outbox from "./outbox.js";

export const ACTIVE = ["new", "acknowledged", "dispatched", "on_site"];
const INBOX_KEY = "inbox";
const ticketKey = (id) => `ticket:${id}`;

// [clock, due field, fields that meet it (the first set wins), stopped by resolution too]
// Mirrors server/sla/ticket_clocks.py (and the desk's sla.js).
const CLOCKS = [
  ["ack", "ack_due_at", ["acknowledged_at", "dispatched_at", "on_site_at"], true],
  ["on_site", "on_site_due_at", ["on_site_at"], true], // the 15-minute on-site promise (domain.md)
  ["department", "department_due_at", ["handed_to_department_at"], true],
  ["answer", "answer_due_at", ["answered_at"], true],
  ["promised", "promised_at", ["resolved_at"], false],
  ["resolve", "resolve_due_at", ["resolved_at"], false],
  ["follow_up", "follow_up_due_at", ["followed_up_at"], false],
];
const AMBER_SECONDS = 5 * 60;
const AMBER_FRACTION = 0.25;

export function parseTime(value) {
  if (!value) return null;
  const ms = Date.parse(String(value).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? null : ms;
}

// The server's clock as far as the phone knows it (the outbox measures the offset at each sync):
// due times are server times.
export async function serverNow() {
  return Date.now() + ((await kvGet("server_offset_ms")) || 0);
}

// ---- the list -------------------------------------------------------------------------------
async function userId() {
  return (await kvGet("user"))?.id ?? (await kvGet("user_id"));
}

/** Fetch my active tickets and cache them (and the details of the ones that changed). */
export async function refresh() {
  const { data } = await request("GET", `api/tickets?assignee=me&status=${ACTIVE.join(",")}&limit=100`);
  const items = data.items;
  const owner = await userId();
  await put("cache", { key: INBOX_KEY, value: { user_id: owner, items }, at: new Date().toISOString() });
  // Details (with the timeline) for offline viewing; only those that changed since last time.
  for (const ticket of items) {
    const cached = await get("cache", ticketKey(ticket.id));
    if (cached?.value?.updated_at === ticket.updated_at && cached?.user_id === owner) continue;
    try {
      await fetchTicket(ticket.id);
    } catch { /* the list is what matters; the page fetches again when opened */ }
  }
  return items;
}

/** My tickets as last fetched (another user's cache on a shared phone is not shown). */
export async function cachedInbox() {
  const row = await get("cache", INBOX_KEY);
  if (!row?.value || row.value.user_id !== (await userId())) return { items: [], at: null };
  return { items: row.value.items || [], at: row.at };
}

export async function fetchTicket(id) {
  const { data } = await request("GET", `api/tickets/${id}`);
  await put("cache", { key: ticketKey(id), value: data, user_id: await userId(), at: new Date().toISOString() });
  return data;
}

export async function cachedTicket(id) {
  const row = await get("cache", ticketKey(id));
  if (row?.value && row.user_id === (await userId())) return row.value;
  return (await cachedInbox()).items.find((t) => t.id === id) || null;
}

/** The inbox as it will look once my pending steps are synced, sorted. */
export async function inboxViews() {
  const { items, at } = await cachedInbox();
  const steps = await pendingSteps();
  const views = [];
  for (const ticket of items) {
    const detail = await cachedTicket(ticket.id);
    views.push(overlay({ ...ticket, on_my_way_at: onMyWayAt(detail || {}) }, steps.get(ticket.id) || []));
  }
  return { items: sortInbox(views), at };
}

/** Critical first, then the newest: an alarm with someone trapped never hides under a repair. */
export function sortInbox(items) {
  const critical = (t) => (t.severity === "critical" ? 0 : 1);
  return [...items].sort((a, b) => critical(a) - critical(b)
    || (parseTime(b.opened_at) ?? 0) - (parseTime(a.opened_at) ?? 0) || b.id - a.id);
}

// ---- my steps still in the outbox -----------------------------------------------------------
/** ticket id → [{action, device_time, state, error, item}] in the order they were taken. */
export async function pendingSteps() {
  const byTicket = new Map();
  const items = (await all("outbox")).filter((i) => i.kind === "ticket_action").sort((a, b) => a.seq - b.seq);
  for (const item of items) {
    const id = item.payload.ticket_id;
    if (!byTicket.has(id)) byTicket.set(id, []);
    byTicket.get(id).push({ action: item.payload.action.action, device_time: item.device_time,
      state: item.state, error: item.error || null, item });
  }
  return byTicket;
}

/** Calls `fn({synced})` when my ticket steps in the outbox change (queued, refused, or gone to
 *  the server: `synced`). The outbox reports every replay attempt; most change nothing here. */
export function onStepsChange(fn) {
  const snapshot = async () => new Map((await all("outbox")).filter((i) => i.kind === "ticket_action")
    .map((i) => [i.id, i.state]));
  let last = null;
  snapshot().then((m) => { last ??= m; }).catch(() => {});
  return outbox.onChange(async () => {
    const now = await snapshot();
    const before = last || new Map();
    last = now;
    const synced = [...before.keys()].some((id) => !now.has(id));
    const changed = synced || now.size !== before.size || [...now].some(([id, state]) => before.get(id) !== state);
    if (changed) fn({ synced });
  });
}

/** The ticket as it will be once my pending steps reach the server (optimistic view). */
export function overlay(ticket, steps = []) {
  const view = { ...ticket, pending: steps, pendingActions: new Set(steps.map((s) => s.action)) };
  for (const step of steps) {
    if (step.state !== "pending") continue; // a refused step changes nothing
    const at = step.device_time;
    switch (step.action) {
      case "acknowledge": view.status = "acknowledged"; view.acknowledged_at ||= at; break;
      case "arrive": view.status = "on_site"; view.local_on_site_at = at; break;
      case "resolve": view.status = "resolved"; view.local_resolved_at = at; break;
      case "announce_delay": view.local_delay_announced_at = at; break;
      default: break;
    }
  }
  return view;
}

/** Steps a specialist may take now (server/tickets/lifecycle.py ALLOWED_FROM; ROLES_FOR has
 *  none of these for the desk only). */
export function allowedActions(view) {
  const status = view.status;
  const actions = [];
  if (!ACTIVE.includes(status)) return actions;
  if (status === "new") actions.push("acknowledge");
  // "On my way" is a note for the desk, not a status: offered once, while dispatched.
  if (status === "dispatched" && !view.pendingActions?.has("on_my_way") && !view.on_my_way_at) {
    actions.push("on_my_way");
  }
  if (["new", "acknowledged", "dispatched"].includes(status)) actions.push("arrive");
  // Told the requester someone will be late: only while the on-site promise still runs.
  if (view.on_site_due_at && !view.on_site_at && !view.local_on_site_at && !view.delay_announced_at
      && !view.local_delay_announced_at) {
    actions.push("announce_delay");
  }
  actions.push("resolve");
  return actions;
}

/** When the server last recorded "on my way" (from the timeline, when we have it). */
export function onMyWayAt(ticket) {
  return (ticket.audit || []).filter((a) => a.action === "on_my_way").map((a) => a.at).pop() || null;
}

// ---- SLA ------------------------------------------------------------------------------------
/** The running clocks of a ticket, soonest first: [{clock, due, remaining (s), state}]. */
export function pendingClocks(ticket, now) {
  const start = parseTime(ticket.opened_at) ?? now;
  const result = [];
  for (const [clock, dueField, metFields, byResolution] of CLOCKS) {
    const due = parseTime(ticket[dueField]);
    if (due === null) continue;
    const met = metFields.some((f) => ticket[f]);
    if (met || (byResolution && ticket.resolved_at) || ticket.closed_at || ticket.status === "cancelled") continue;
    const remaining = (due - now) / 1000;
    const window = Math.max(1, (due - start) / 1000);
    let state = "ok";
    if (remaining < 0) state = "red";
    else if (remaining < AMBER_SECONDS || remaining < window * AMBER_FRACTION) state = "amber";
    result.push({ clock, due, remaining, state });
  }
  return result.sort((a, b) => a.due - b.due);
}

export function nextClock(ticket, now) {
  return pendingClocks(ticket, now)[0] || null;
}

// ---- taking a step --------------------------------------------------------------------------
/** Queue one step (and its photos) in the outbox; it syncs now when online, later otherwise. */
export async function act(ticketId, action, fields = {}, photos = []) {
  const item = await outbox.enqueue("ticket_action", { ticket_id: ticketId, action: { action, ...fields } }, photos);
  if (navigator.onLine) outbox.sync({ force: true }).catch(() => {});
  return item;
}
