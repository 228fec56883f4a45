// Move-in data on the phone: the cached server lists (units, template, due second
// inspections, my move-ins), the in-progress draft and its photos/signatures (kv keys, so
// the wizard survives a reload without a schema change), and what became of saved ones.
import { ApiError, BASE, request } from "./api.js";
import { all, del, get, kvGet, kvSet, put } from "./db.js";
import { uuid } from "./outbox.js";

export const QUANTITIES = ["water", "electricity", "gas"];
export const CARD = /^[0-9A-Za-z-]{1,64}$/; // server/movein/schemas.py CardNumber
export const PHONE = /^[0-9+ -]{3,32}$/;
const DRAFT = "movein_draft";
const BLOB = "movein_blob:";
const MINE = "movein_mine"; // move-ins saved on this phone, newest first
const KEEP_MINE = 50;

export async function cached(key) {
  return (await get("cache", key))?.value ?? null;
}

async function store(key, value) {
  await put("cache", { key, value, at: new Date().toISOString() });
}

const listOf = (data) => (Array.isArray(data) ? data : data?.items || []);

// Refresh what the wizard needs offline. Each list on its own: one missing endpoint does
// not keep the others stale. A 401 is left to the shell (it asks for a new login).
export async function refresh() {
  if (!navigator.onLine) return;
  const fetchers = {
    movein_templates: async () => listOf((await request("GET", "api/move-ins/templates")).data),
    movein_units: async () => listOf((await request("GET", "api/move-ins/units?limit=500")).data),
    movein_due: async () => listOf((await request("GET", "api/move-ins/due")).data),
    movein_server: async () => listOf((await request("GET", "api/move-ins?limit=100")).data),
  };
  await Promise.all(Object.entries(fetchers).map(async ([key, fetcher]) => {
    try {
      await store(key, await fetcher());
    } catch { /* offline again, or not there yet: keep the last copy */ }
  }));
}

export async function template() {
  const templates = (await cached("movein_templates")) || [];
  return templates.find((tp) => tp.name === "move_in") || templates[0] || null;
}

export async function units() {
  return (await cached("movein_units")) || [];
}

export async function searchUnits(q) {
  const list = await units();
  const needle = (q || "").trim().toLowerCase();
  if (!needle) return list;
  return list.filter((u) => [u.slug, u.number, u.owner, u.building]
    .some((v) => v != null && String(v).toLowerCase().includes(needle)));
}

export function unitLabel(u) {
  return u?.label || u?.slug || u?.unit || "";
}

// The meters to read: the template names them (required or not, unit of measure).
export function meters(tpl) {
  return tpl?.meters || QUANTITIES.map((quantity) => ({ quantity, required: quantity !== "gas" }));
}

// A scanned tag → its unit: the vacant-unit checkpoint (patrol cache) names its unit. The
// content must match the listed tag exactly (a forged tag fails as at a patrol checkpoint).
export async function unitForTag(content) {
  const list = await units();
  const checkpoints = (await cached("checkpoints")) || [];
  const checkpoint = checkpoints.find((c) => c.tag === content);
  if (!checkpoint) return { error: "unknown" };
  if (!checkpoint.unit) return { error: "not_unit" };
  return { unit: list.find((u) => u.slug === checkpoint.unit) || { slug: checkpoint.unit, label: checkpoint.label } };
}

// ---- the draft ------------------------------------------------------------------------
export function newDraft(tpl, { stage = "handover", unit = null, owner_name = "", owner_phone = "", previous = null } = {}) {
  return {
    stage, step: 0, unit, tag: null, previous,
    owner_name, owner_phone, proxy_on: false,
    proxy: { name: "", phone: "", power_of_attorney: "", photo: null },
    staff: [""],
    template: tpl, answers: {},
    readings: Object.fromEntries(QUANTITIES.map((q) => [q, { value: "", photo: null, absent: false }])),
    keys: "", access_cards: [""], utility_cards: { electricity: "", water: "", gas: "" },
    signatures: { owner: null, staff: null },
    note: "", started_at: new Date().toISOString(),
  };
}

export function loadDraft() {
  return kvGet(DRAFT);
}

export function saveDraft(draft) {
  return kvSet(DRAFT, draft);
}

export async function discardDraft() {
  const draft = await kvGet(DRAFT);
  if (draft) for (const id of blobIds(draft)) await del("kv", BLOB + id);
  await kvSet(DRAFT, null);
}

// Photos and signatures of the draft live under their own keys: typing a note does not
// rewrite megabytes of JPEG.
export async function putBlob(blob, id = uuid()) {
  await kvSet(BLOB + id, blob);
  return id;
}

export function getBlob(id) {
  return id ? kvGet(BLOB + id) : Promise.resolve(null);
}

export function dropBlob(id) {
  return id ? del("kv", BLOB + id) : Promise.resolve();
}

export function blobIds(draft) {
  const ids = [draft.proxy?.photo, draft.signatures?.owner, draft.signatures?.staff];
  for (const a of Object.values(draft.answers || {})) ids.push(a.photo);
  for (const r of Object.values(draft.readings || {})) ids.push(r.photo);
  return ids.filter(Boolean);
}

// ---- saved move-ins ----------------------------------------------------------------------
export async function remember(entry) {
  const mine = (await kvGet(MINE)) || [];
  await kvSet(MINE, [entry, ...mine.filter((m) => m.id !== entry.id)].slice(0, KEEP_MINE));
}

// Each saved move-in with its state: pending / conflict / rejected in the outbox, or synced
// with the server's result (kept by the outbox), or synced on another phone (server list).
export async function mine() {
  const local = (await kvGet(MINE)) || [];
  const queued = new Map((await all("outbox")).map((i) => [i.id, i]));
  const server = (await cached("movein_server")) || [];
  const rows = [];
  const seen = new Set();
  for (const entry of local) {
    const item = queued.get(entry.id);
    const result = (await cached(`result:${entry.id}`))?.result || null;
    // The inspection's id on the server is the outbox item's UUID.
    const remote = server.find((s) => s.id === (result?.inspection_id ?? entry.id));
    if (remote) seen.add(remote.id);
    const state = item ? item.state : "synced";
    rows.push({ ...entry, state, error: item?.error, result, remote,
      inspection_id: state === "synced" ? (result?.inspection_id ?? entry.id) : null });
  }
  for (const s of server) {
    if (seen.has(s.id)) continue;
    rows.push({ id: s.id, unit: s.unit, stage: s.stage, owner_name: s.owner_name, saved_at: s.handed_over_at,
      state: "synced", result: null, inspection_id: s.id, remote: s });
  }
  return rows;
}

// The PDF needs the login, so it is fetched here and opened as a blob.
export async function openPdf(inspectionId, lang) {
  const token = await kvGet("token");
  const response = await fetch(`${BASE}api/move-ins/${inspectionId}.pdf?lang=${encodeURIComponent(lang)}`,
    { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new ApiError(response.status, null);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.target = "_blank";
  a.download = `move-in-${inspectionId}-${lang}.pdf`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
