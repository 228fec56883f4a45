// The outbox (conventions.md, after workbox-background-sync's Queue): every write is a
// plain object with a client UUID and the device time, replayed oldest first; the first
// failure stops the replay and stays at the head. Photos go up first (PUT, idempotent by
// UUID), then records in batches to /api/patrols/sync. DOM-free: the service worker's
// Background Sync runs this same code.
import { all, count, del, get, kvGet, kvSet, put, putMany } from "./db.js";
import { ApiError, request } from "./api.js";

export const APP_VERSION = "1";
const BATCH = 100;
const MAX_BACKOFF_S = 300;
const listeners = new Set();
// Kinds whose sync result the app shows afterwards (a move-in: readings checked, tickets;
// a walk-in request: its ticket number).
const KEEP_RESULT = new Set(["move_in", "ticket_create"]);

export function uuid() {
  return crypto.randomUUID();
}

export async function deviceId() {
  let id = await kvGet("device_id");
  if (!id) {
    id = "ph-" + crypto.randomUUID().replaceAll("-", "");
    await kvSet("device_id", id);
  }
  return id;
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function changed() {
  const s = await status();
  for (const fn of listeners) fn(s);
  if (typeof BroadcastChannel !== "undefined") new BroadcastChannel("fieldops-outbox").postMessage(s);
}

export async function status() {
  const items = await all("outbox");
  return {
    pending: items.length,
    blocked: items.find((i) => i.state === "conflict" || i.state === "rejected") || null,
    lastSync: await kvGet("last_sync"),
    retryAt: await kvGet("retry_at"),
    needLogin: !!(await kvGet("need_login")),
  };
}

// A record (scan or patrol run) and the photos it refers to, queued in one transaction.
// `id` lets a caller fix the UUID beforehand (a move-in draft knows it, so an interrupted
// save is never queued twice).
export async function enqueue(kind, payload, photos = [], id = uuid()) {
  const now = new Date().toISOString();
  const entries = [];
  for (const { id, blob } of photos) {
    entries.push(["photos", { id, blob, type: blob.type }]);
    entries.push(["outbox", { id, kind: "photo", device_time: now, payload: { photo_id: id }, state: "pending" }]);
  }
  const item = { id, kind, device_time: now, payload, state: "pending" };
  entries.push(["outbox", item]);
  await putMany(entries);
  await changed();
  requestBackgroundSync();
  return item;
}

function requestBackgroundSync() {
  // Chromium only; elsewhere the online event and app start do the replay.
  if (typeof navigator !== "undefined" && navigator.serviceWorker && globalThis.SyncManager) {
    navigator.serviceWorker.ready.then((r) => r.sync.register("fieldops-outbox")).catch(() => {});
  }
}

async function withLock(fn) {
  // The page and the service worker may both try: one replay at a time.
  if (globalThis.navigator && navigator.locks) return navigator.locks.request("fieldops-outbox", fn);
  return fn();
}

// Replay the outbox. `force` ignores the backoff (app start, the online event, a tap).
export async function sync({ force = false } = {}) {
  return withLock(async () => {
    const retryAt = await kvGet("retry_at");
    if (!force && retryAt && Date.now() < retryAt) return { ok: false, reason: "backoff" };
    const items = (await all("outbox")).sort((a, b) => a.seq - b.seq);
    if (items.length && (items[0].state === "conflict" || items[0].state === "rejected")) {
      return { ok: false, reason: items[0].state }; // waits for the specialist to decide
    }
    try {
      let i = 0;
      while (i < items.length) {
        if (items[i].kind === "photo") {
          await uploadPhoto(items[i]);
          await del("outbox", items[i].seq);
          await del("photos", items[i].payload.photo_id);
          i += 1;
          continue;
        }
        const chunk = [];
        while (i < items.length && items[i].kind !== "photo" && chunk.length < BATCH) chunk.push(items[i++]);
        const stopped = await sendBatch(chunk);
        if (stopped) return { ok: false, reason: stopped };
      }
      if (items.length) await kvSet("last_sync", new Date().toISOString());
      await kvSet("retry_at", null);
      await kvSet("attempts", 0);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: await failed(error) };
    } finally {
      await changed();
    }
  });
}

async function uploadPhoto(item) {
  const photo = await get("photos", item.payload.photo_id);
  if (!photo) return; // already uploaded and cleaned up by an earlier, interrupted replay
  await request("PUT", `api/attachments/${photo.id}`, { body: photo.blob, headers: { "Content-Type": photo.type } });
}

async function sendBatch(chunk) {
  let response;
  try {
    response = await request("POST", "api/patrols/sync", { json: {
      device_id: await deviceId(), sent_at: new Date().toISOString(), app_version: APP_VERSION,
      items: chunk.map(({ id, kind, device_time, payload }) => ({ id, kind, device_time, payload })),
    } });
  } catch (error) {
    if (!(error instanceof ApiError) || !error.body || !("accepted" in error.body)) throw error;
    response = { data: error.body, status: error.status };
  }
  const { accepted, failed, server_time } = response.data;
  for (const result of accepted) {
    const item = chunk.find((c) => c.id === result.id);
    if (item && KEEP_RESULT.has(item.kind)) {
      await put("cache", { key: `result:${item.id}`, value: result, at: new Date().toISOString() });
    }
    if (item) await del("outbox", item.seq);
  }
  await kvSet("server_offset_ms", Date.parse(server_time) - Date.now());
  if (!failed) return null;
  const item = chunk.find((c) => c.id === failed.id);
  // A race on the server ("being applied by another request"): the item stays pending.
  if (failed.code === "client_action.in_flight") return backoff();
  // client_action.reused: this UUID was already synced with other content — never retried,
  // never overwritten; shown to the specialist. Anything else (a step on a ticket the desk
  // cancelled meanwhile, a unit already handed over): the server refuses the item as it is.
  item.state = failed.code === "client_action.reused" ? "conflict" : "rejected";
  item.error = { status: failed.status, title: failed.title, detail: failed.detail, code: failed.code };
  await put("outbox", item);
  await kvSet("last_sync", new Date().toISOString());
  return item.state;
}

async function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    await kvSet("need_login", true); // log in again; the outbox waits untouched
    return "login";
  }
  if (error instanceof ApiError && error.status === 409) {
    const head = (await all("outbox")).sort((a, b) => a.seq - b.seq)[0];
    if (head) { head.state = "conflict"; head.error = { status: 409, detail: error.message }; await put("outbox", head); }
    return "conflict";
  }
  return backoff();
}

// Network or server trouble: exponential backoff, 2, 4, 8 … up to 300 s.
async function backoff() {
  const attempts = (await kvGet("attempts", 0)) + 1;
  await kvSet("attempts", attempts);
  await kvSet("retry_at", Date.now() + Math.min(MAX_BACKOFF_S, 2 ** attempts) * 1000);
  return "offline";
}

// Everything pending, photos inlined, for a file the specialist keeps (before logging out,
// or to hand a conflicting item to the supervisor).
export async function exportAll() {
  const items = (await all("outbox")).sort((a, b) => a.seq - b.seq);
  const photos = {};
  for (const p of await all("photos")) photos[p.id] = { type: p.type, data: await blobToDataUrl(p.blob) };
  return { exported_at: new Date().toISOString(), device_id: await deviceId(), items, photos };
}

// Put exported items back in the outbox (the same UUIDs: the server acknowledges them again).
export async function importItems(exported) {
  for (const [id, p] of Object.entries(exported.photos || {})) {
    await put("photos", { id, type: p.type, blob: await (await fetch(p.data)).blob() });
  }
  for (const { seq: _seq, state: _state, error: _error, ...item } of exported.items) {
    await put("outbox", { ...item, state: "pending" });
  }
  await changed();
}

export async function discard(seq) {
  const item = await get("outbox", seq);
  if (item && item.kind === "photo") await del("photos", item.payload.photo_id);
  await del("outbox", seq);
  await changed();
}

export function pendingCount() {
  return count("outbox");
}

function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
