// Walk-in requests (登记报事): a resident stops the specialist on their rounds ("my kitchen pipe
// leaks"). Under the first-contact rule (首问责任制) the specialist records it on the spot, often
// without signal, as one `ticket_create` outbox item (server/tickets/outbox.py, the tickets API's
// create body); the desk dispatches it once it arrives. Requests recorded on this phone stay
// listed under the form with their ticket number once synced, or the server's refusal.
import { all, del, get, kvGet, kvSet } from "./db.js";
import { t, when } from "./i18n.js";
import * as outbox from "./outbox.js";
import { resize } from "./photo.js";
import { PHONE, units as cachedUnits } from "./movein_data.js";
import { h, kindLabel } from "./ticket_ui.js";

const ROUTE = "#/requests/new";
const KINDS = ["repair", "complaint", "help"];
const MINE = "walkin_mine"; // requests recorded on this phone, newest first
const KEEP_MINE = 20;
const MAX_PHOTOS = 3;
// The form's content, kept in IndexedDB as it is typed: a phone that locks and lets the OS close
// the app mid-sentence must not lose what the resident said.
const DRAFT = "walkin_draft";

let ctx = null; // { view, home, toast } from the shell
let draft = null; // the form's content; its id is the outbox item's UUID, fixed before queueing
let queue = Promise.resolve(); // MINE is read-modify-written: one change at a time

const serial = (fn) => (queue = queue.then(fn).catch(() => {}));
// On a shared phone the next specialist sees neither the form nor the list of the one before.
const me = async () => (await kvGet("user"))?.id ?? (await kvGet("user_id"));
const shown = () => !!ctx?.view.querySelector("[data-view=walk-in]");

export function init(shell) {
  ctx = shell;
  outbox.onChange(() => serial(announce));
  // Background Sync in the service worker reports here, not through onChange.
  if (typeof BroadcastChannel !== "undefined") {
    new BroadcastChannel("fieldops-outbox").addEventListener("message", () => serial(announce));
  }
}

export function route() {
  return location.hash === ROUTE ? show() : null;
}

/** The home view's button. */
export function entry() {
  return h("button", { class: "primary big", id: "walkin-button", onclick: () => { location.hash = ROUTE; } },
    t("walkin.entry"));
}

/** "报修 · 厨房水管漏水 · b1-1203" for the pending list; null for other kinds. */
export function summary(item) {
  if (item.kind !== "ticket_create") return null;
  const p = item.payload;
  return [kindLabel(p.kind), p.title, p.unit || p.building].filter(Boolean).join(" · ");
}

function newDraft(user) {
  return { id: outbox.uuid(), user, kind: null, building: null, unit: "", name: "", phone: "", title: "",
    description: "", onSite: false, photos: [] };
}

// ---- the form -------------------------------------------------------------------------------
async function show() {
  const user = await me();
  if (!draft || draft.user !== user) {
    const kept = await kvGet(DRAFT);
    draft = kept && kept.user === user ? kept : newDraft(user);
  }
  const estate = (await get("cache", "estate"))?.value;
  const units = await cachedUnits(); // the move-in picker's list: every unit of my buildings
  const buildings = estate?.buildings?.length ? estate.buildings
    : [...new Set(units.map((u) => u.building))].map((slug) => ({ slug, name: slug }));
  if (buildings.length === 1) draft.building = buildings[0].slug;
  if (location.hash !== ROUTE) return; // the specialist moved on while this loaded

  const error = h("p", { class: "error", role: "alert", id: "wi-error" });
  const radios = (name, values, label, selected, set) => h("div", { class: `choices wi-${name}` },
    ...values.flatMap((v) => [
      h("input", { type: "radio", name, id: `wi-${name}-${v.slug}`, value: v.slug, checked: v.slug === selected,
        onchange: () => set(v.slug) }),
      h("label", { for: `wi-${name}-${v.slug}`, class: "choice" }, label(v))]));
  const unitSelect = h("select", { name: "unit", id: "wi-unit", onchange: (e) => { draft.unit = e.target.value; } });
  const unitSearch = h("input", { type: "search", id: "wi-unit-search", autocapitalize: "off",
    placeholder: t("walkin.unit_search"), oninput: () => fillUnits() });
  const fillUnits = () => {
    const needle = unitSearch.value.trim().toLowerCase();
    const found = units.filter((u) => u.building === draft.building)
      .filter((u) => !needle || [u.slug, u.number, u.owner].some((v) => v && String(v).toLowerCase().includes(needle)))
      .sort((a, b) => a.slug.localeCompare(b.slug));
    if (needle && found.length === 1) draft.unit = found[0].slug; // typed "1203": that unit
    if (draft.unit && !found.some((u) => u.slug === draft.unit)) draft.unit = "";
    unitSelect.replaceChildren(h("option", { value: "" }, t("walkin.unit_none")),
      ...found.map((u) => h("option", { value: u.slug, selected: u.slug === draft.unit },
        [u.slug, u.owner].filter(Boolean).join(" · "))));
  };
  fillUnits();
  const text = (name, key, attrs = {}) => h(attrs.rows ? "textarea" : "input", { name, id: `wi-${name}`,
    value: attrs.rows ? null : draft[key], ...attrs, oninput: (e) => { draft[key] = e.target.value; } },
  attrs.rows ? draft[key] : null);
  const photoCount = h("span", { id: "wi-photo-count" });
  const photoLabel = h("label", { class: "button photo" }, t("walkin.photo"));
  const showPhotos = () => {
    photoCount.textContent = draft.photos.length ? t("walkin.photos", { n: draft.photos.length }) : "";
    photoLabel.classList.toggle("done", draft.photos.length > 0);
    photoLabel.hidden = draft.photos.length >= MAX_PHOTOS;
    clearPhotos.hidden = !draft.photos.length;
  };
  photoLabel.append(h("input", { type: "file", accept: "image/*", capture: "environment", name: "wi-photo",
    class: "visually-hidden", onchange: async (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (!file) return;
      draft.photos.push({ id: outbox.uuid(), blob: await resize(file) }); // ≤ 1600 px before queueing
      showPhotos();
      keep();
    } }));
  const clearPhotos = h("button", { type: "button", id: "wi-photo-clear", onclick: () => { draft.photos = []; showPhotos(); keep(); } },
    t("walkin.photo_clear"));
  showPhotos();

  const submit = h("button", { type: "submit", class: "primary big", id: "wi-submit" }, t("walkin.submit"));
  const form = h("form", { class: "walk-in", id: "wi-form", novalidate: true },
    h("fieldset", { class: "wi-group" }, h("legend", {}, t("walkin.kind")),
      radios("kind", KINDS.map((slug) => ({ slug })), (v) => kindLabel(v.slug), draft.kind, (v) => { draft.kind = v; })),
    buildings.length ? h("fieldset", { class: "wi-group" }, h("legend", {}, t("walkin.building")),
      radios("building", buildings, (b) => b.name || b.slug, draft.building, (v) => { draft.building = v; fillUnits(); }))
      : h("p", { class: "error" }, t("walkin.no_buildings")),
    h("label", { for: "wi-unit-search" }, t("walkin.unit")), unitSearch, unitSelect,
    h("label", {}, t("walkin.requester_name"), text("requester-name", "name", { maxlength: 100, autocomplete: "off" })),
    h("label", {}, t("walkin.requester_phone"), text("requester-phone", "phone", { type: "tel", inputmode: "tel", maxlength: 32 })),
    h("label", {}, t("walkin.subject"), text("title", "title", { maxlength: 200, placeholder: t("walkin.subject_placeholder") })),
    h("label", {}, t("walkin.description"), text("description", "description", { rows: 3, maxlength: 2000 })),
    h("label", { class: "mi-toggle" }, h("input", { type: "checkbox", name: "needs-on-site", id: "wi-on-site",
      checked: draft.onSite, onchange: (e) => { draft.onSite = e.target.checked; } }), " ", t("walkin.on_site")),
    photoLabel, photoCount, clearPhotos, error, submit,
    h("button", { type: "button", class: "big", onclick: () => { location.hash = ""; } }, t("back")));
  form.addEventListener("input", keep);
  form.addEventListener("change", keep);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return; // a double tap: the first one is being queued
    submit.disabled = true;
    try {
      const problem = check();
      error.textContent = problem ? t(problem[1]) : "";
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      if (problem) {
        // Next to the field, not under the submit button: the phone's keyboard would cover it.
        const field = form.querySelector(problem[0]);
        (field?.closest("fieldset, label") || submit).after(error);
        field?.setAttribute("aria-invalid", "true");
        field?.focus();
        return;
      }
      await save();
    } finally {
      submit.disabled = false;
    }
  });
  ctx.view.replaceChildren(h("section", { "data-view": "walk-in" },
    h("h2", {}, t("walkin.heading")), h("p", { class: "sub" }, t("walkin.intro")), form,
    h("h2", {}, t("walkin.mine")), await mineList()));
}

// Stored after the form's own handlers ran (they update `draft`); IndexedDB keeps the photo blobs.
function keep() {
  const snapshot = { ...draft, photos: [...draft.photos] };
  kvSet(DRAFT, snapshot).catch((error) => console.warn("walk-in draft not kept", error));
}

// [field to focus, message key] for the first problem, or null. Mirrors TicketCreate's limits.
function check() {
  if (!draft.kind) return ["#wi-kind-repair", "walkin.need_kind"];
  if (!draft.building) return ["input[name=building]", "walkin.need_building"];
  if (!draft.title.trim()) return ["#wi-title", "walkin.need_subject"];
  if (draft.phone.trim() && !PHONE.test(draft.phone.trim())) return ["#wi-requester-phone", "walkin.bad_phone"];
  return null;
}

function payload() {
  const p = { kind: draft.kind, title: draft.title.trim(), source: "walk_in", building: draft.building,
    needs_on_site: draft.onSite }; // needs_on_site starts the 15-minute on-site clock
  const optional = { unit: draft.unit, requester_name: draft.name.trim(), requester_phone: draft.phone.trim(),
    description: draft.description.trim() };
  for (const [k, v] of Object.entries(optional)) if (v) p[k] = v;
  if (draft.photos.length) p.attachment_ids = draft.photos.map((x) => x.id);
  return p;
}

async function save() {
  const p = payload();
  // The UUID was fixed when the form opened: a save interrupted after the enqueue never queues twice.
  if (!(await all("outbox")).some((i) => i.id === draft.id)) { // not exportAll: it reads every photo
    await outbox.enqueue("ticket_create", p, draft.photos, draft.id);
  }
  await serial(() => remember({ id: draft.id, user: draft.user, kind: p.kind, title: p.title, place: p.unit || p.building,
    saved_at: new Date().toISOString() }));
  draft = newDraft(draft.user);
  await kvSet(DRAFT, null);
  ctx.toast(navigator.onLine ? t("walkin.sending") : t("walkin.saved_offline"));
  await show();
  scrollTo(0, 0);
  if (navigator.onLine) outbox.sync({ force: true }).catch(() => {}); // the result is announced by a toast
}

// ---- requests recorded on this phone --------------------------------------------------------
async function remember(entry) {
  const mine = (await kvGet(MINE)) || [];
  const kept = [entry, ...mine.filter((m) => m.id !== entry.id)];
  for (const old of kept.slice(KEEP_MINE)) await del("cache", `result:${old.id}`);
  await kvSet(MINE, kept.slice(0, KEEP_MINE));
}

// pending | rejected | conflict while in the outbox; sent (with the ticket number) once the
// server answered; removed when the specialist exported and removed a refused one.
async function stateOf(entry, queued) {
  const item = queued.get(entry.id);
  if (item) return { state: item.state, error: item.error || {} };
  const ticketId = (await get("cache", `result:${entry.id}`))?.value?.result?.ticket_id;
  return ticketId != null ? { state: "sent", ticketId } : { state: "removed" };
}

// Tell the specialist once what became of each request: the desk has it (ticket #), or the
// server refused it in its own words (e.g. a unit of another building).
async function announce() {
  const mine = (await kvGet(MINE)) || [];
  const user = await me();
  const queued = new Map((await all("outbox")).map((i) => [i.id, i]));
  let message = null;
  let changed = false;
  for (const entry of mine) {
    if (entry.announced || entry.user !== user) continue;
    const s = await stateOf(entry, queued);
    if (s.state === "pending") continue;
    entry.announced = true;
    changed = true;
    if (s.state === "sent") message = [t("walkin.sent", { id: s.ticketId, title: entry.title }), "info"];
    else if (s.state !== "removed") {
      message = [t("walkin.refused", { title: entry.title, status: s.error.status ?? 409, detail: s.error.detail ?? "" }), "error"];
    }
  }
  if (!changed) return;
  await kvSet(MINE, mine);
  if (message) ctx.toast(...message);
  const list = document.getElementById("wi-mine");
  if (list && shown()) list.replaceWith(await mineList());
}

async function mineList() {
  const user = await me();
  const mine = ((await kvGet(MINE)) || []).filter((m) => m.user === user);
  if (!mine.length) return h("p", { id: "wi-mine" }, t("walkin.none"));
  const queued = new Map((await all("outbox")).map((i) => [i.id, i]));
  const list = h("ul", { class: "pending", id: "wi-mine" });
  for (const entry of mine) {
    const s = await stateOf(entry, queued);
    list.append(h("li", { class: s.state, "data-id": entry.id, "data-state": s.state,
      "data-ticket-id": s.ticketId != null ? String(s.ticketId) : null },
    h("strong", {}, kindLabel(entry.kind), " · ", entry.title),
    h("div", {}, [entry.place, when(entry.saved_at)].filter(Boolean).join(" · ")),
    h("div", { class: `badge ${s.state === "sent" ? "ok" : "warn"} wi-state` },
      t(`walkin.state.${s.state}`, { id: s.ticketId, status: s.error?.status, detail: s.error?.detail }))));
  }
  return list;
}
