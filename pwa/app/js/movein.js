// Move-in inspections (入伙验房, domain.md): a wizard that works offline, keeps its draft
// across reloads, and saves one `move_in` outbox item with its photos and signatures; the
// home view's entry and due second inspections; "my move-ins" with the server's result.
import { t, when } from "./i18n.js";
import * as outbox from "./outbox.js";
import * as data from "./movein_data.js";
import { checklistStep, h, handoverStep, peopleStep, readingsStep, unitStep } from "./movein_steps.js";
import { attachmentIds, payload, reviewStep, signaturesStep } from "./movein_sign.js";

export { refresh } from "./movein_data.js";

const STEPS = { unit: unitStep, people: peopleStep, checklist: checklistStep, readings: readingsStep,
  handover: handoverStep, signatures: signaturesStep, review: reviewStep };
const HANDOVER = ["unit", "people", "checklist", "readings", "handover", "signatures", "review"];
const SECOND = ["unit", "people", "checklist", "signatures", "review"]; // keys and readings were done
const DONE = ["resolved", "followed_up", "closed", "cancelled"];

let ctx = null; // { view, home, toast } from the shell
let current = null; // the step on screen

export function init(shell) {
  ctx = shell;
  outbox.onChange(() => {
    if (ctx.view.querySelector("[data-view=movein-list]")) showList();
  });
}

// Opens what the address names (#/move-in: the wizard, #/move-ins: my move-ins).
export function route() {
  if (location.hash === "#/move-in") return openWizard();
  if (location.hash === "#/move-ins") return showList();
  return null;
}

function setHash(hash) {
  history.replaceState(null, "", hash || location.pathname + location.search);
}

function goHome() {
  current?.leave?.();
  current = null;
  setHash("");
  ctx.home();
}

// ---- home: the entry, a draft to continue, second inspections due ---------------------------
export async function homeSection() {
  const draft = await data.loadDraft();
  const due = (await data.cached("movein_due")) || [];
  const box = h("section", { class: "mi-home" },
    h("button", { class: "primary big", id: "movein-button", onclick: () => openWizard() },
      draft ? t("movein.continue", { unit: data.unitLabel(draft.unit) || "…" }) : t("movein.start")),
    draft ? h("button", { id: "movein-discard", onclick: async (e) => {
      if (e.currentTarget.dataset.sure !== "1") { // a second tap: a draft holds photos and signatures
        e.currentTarget.dataset.sure = "1";
        e.currentTarget.textContent = t("movein.discard_sure");
        return;
      }
      await data.discardDraft();
      ctx.home();
    } }, t("movein.discard")) : null,
    h("button", { id: "movein-mine", onclick: showList }, t("movein.mine")));
  if (due.length) {
    box.append(h("h2", {}, t("movein.due")), h("ul", { class: "today mi-due" }, ...due.map((d) => {
      const second = d.due === "second_inspection";
      const open = (d.tickets || []).filter((x) => !DONE.includes(x.status));
      return h("li", { class: second ? "mi-due-second" : "mi-due-open", "data-unit": d.unit },
        h("strong", {}, d.unit, " · ", d.owner_name),
        h("span", {}, second ? t("movein.due_second", { t: when(d.since) }) : t("movein.due_open", { n: open.length })),
        second ? h("button", { class: "primary mi-second", "data-unit": d.unit, onclick: () => startSecond(d) },
          t("movein.start_second")) : null);
    })));
  }
  return box;
}

async function startSecond(due) {
  if (await data.loadDraft()) { ctx.toast(t("movein.draft_exists"), "error"); return; }
  const draft = data.newDraft(await data.template(), { stage: "second", unit: { slug: due.unit, label: due.unit },
    owner_name: due.owner_name || "", previous: due.first_inspection_id || due.inspection_id });
  draft.locked = true; // unit and stage come from the server's list
  draft.id = outbox.uuid();
  await data.saveDraft(draft);
  openWizard();
}

// ---- the wizard -----------------------------------------------------------------------------
let saveTimer = null;
let saving = Promise.resolve();

async function openWizard() {
  let draft = await data.loadDraft();
  if (!draft) draft = data.newDraft(await data.template());
  draft.id ||= outbox.uuid(); // the outbox item's UUID, fixed before anything is queued
  if (!draft.template) draft.template = await data.template(); // downloaded since the draft began
  await data.saveDraft(draft);
  setHash("#/move-in");
  renderStep(draft);
}

let unsaved = null; // the draft while a debounced write is waiting

function uiFor(draft) {
  return {
    save: () => { // debounced: every keystroke lands, a burst costs one write
      clearTimeout(saveTimer);
      unsaved = draft;
      saveTimer = setTimeout(() => { unsaved = null; saving = data.saveDraft(draft); }, 250);
    },
  };
}

// The phone may drop a backgrounded app at any time: write what is waiting at once.
addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "hidden" || !unsaved) return;
  clearTimeout(saveTimer);
  saving = data.saveDraft(unsaved);
  unsaved = null;
});

async function flush(draft) {
  clearTimeout(saveTimer);
  unsaved = null;
  await saving;
  await data.saveDraft(draft);
}

function renderStep(draft) {
  const steps = draft.stage === "second" ? SECOND : HANDOVER;
  draft.step = Math.min(Math.max(0, draft.step), steps.length - 1);
  const name = steps[draft.step];
  const last = draft.step === steps.length - 1;
  current?.leave?.();
  current = STEPS[name](draft, uiFor(draft));
  const error = h("p", { class: "error", role: "alert", id: "mi-error" });
  const form = h("form", { class: "movein", "data-step": name, novalidate: true },
    h("h2", {}, t(`movein.title.${draft.stage}`), " · ", t(`movein.step.${name}`)),
    h("ol", { class: "mi-progress", "aria-label": `${draft.step + 1}/${steps.length}` },
      ...steps.map((s, i) => h("li", { class: i < draft.step ? "done" : i === draft.step ? "now" : "" }, String(i + 1)))),
    current.el, error,
    h("div", { class: "row mi-nav" },
      draft.step > 0 ? h("button", { type: "button", id: "mi-back", onclick: async () => {
        draft.step -= 1;
        await flush(draft);
        renderStep(draft);
      } }, t("movein.back")) : null,
      h("button", { type: "submit", class: "primary", id: last ? "mi-save" : "mi-next" },
        last ? t("movein.save") : t("movein.next"))),
    h("button", { type: "button", class: "big", id: "mi-later", onclick: async () => {
      await flush(draft);
      goHome();
    } }, t("movein.later")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const problem = await current.check?.();
      if (problem) {
        error.textContent = problem;
        error.scrollIntoView({ block: "center" });
        return;
      }
      if (last) { await save(draft); return; }
      draft.step += 1;
      await flush(draft);
      renderStep(draft);
    } finally {
      button.disabled = false;
    }
  });
  ctx.view.replaceChildren(form);
  scrollTo(0, 0);
}

async function save(draft) {
  await flush(draft);
  const queued = (await outbox.exportAll()).items.some((i) => i.id === draft.id);
  if (!queued) { // a save interrupted after the enqueue must not queue the inspection twice
    const p = payload(draft, new Date().toISOString());
    const photos = [];
    for (const id of attachmentIds(p)) photos.push({ id, blob: await data.getBlob(id) });
    await outbox.enqueue("move_in", p, photos, draft.id);
  }
  await data.remember({ id: draft.id, unit: draft.unit.slug, unit_label: data.unitLabel(draft.unit),
    stage: draft.stage, owner_name: draft.owner_name.trim(), saved_at: new Date().toISOString() });
  await data.discardDraft();
  current?.leave?.();
  current = null;
  ctx.toast(t("movein.saved"));
  await showList();
  if (navigator.onLine) {
    outbox.sync({ force: true }).then(() => data.refresh()).then(() => {
      if (ctx.view.querySelector("[data-view=movein-list]")) showList();
    }).catch(() => {});
  }
}

// ---- my move-ins: pending, synced with the server's result, PDF when online -------------------
// A refused or conflicting item shows the server's own words (e.g. "already handed over").
const STATE = { pending: "movein.pending", conflict: "movein.rejected", rejected: "movein.rejected", synced: "movein.synced" };

export async function showList() {
  setHash("#/move-ins");
  const rows = await data.mine();
  const list = h("ul", { class: "pending mi-list" });
  for (const r of rows) {
    const li = h("li", { class: `mi-entry ${r.state}`, "data-id": r.id, "data-state": r.state },
      h("strong", {}, r.unit_label || r.unit), " ", h("span", {}, t(`movein.stage.${r.stage || "handover"}`)),
      h("div", {}, [r.owner_name, when(r.saved_at)].filter(Boolean).join(" · ")),
      h("div", { class: `badge ${r.state === "synced" ? "ok" : "warn"} mi-state` },
        t(STATE[r.state] || STATE.pending, { status: r.error?.status, detail: r.error?.detail })));
    const result = r.result || r.remote;
    if (result) li.append(resultView(result));
    if (r.inspection_id != null && navigator.onLine) {
      li.append(h("div", { class: "row" }, ...["zh-CN", "en"].map((lang) => h("button", {
        class: "mi-pdf", "data-lang": lang,
        onclick: () => data.openPdf(r.inspection_id, lang).catch(() => ctx.toast(t("movein.pdf_failed"), "error")),
      }, t(`movein.pdf.${lang}`)))));
    }
    list.append(li);
  }
  ctx.view.replaceChildren(h("section", { "data-view": "movein-list" },
    h("h2", {}, t("movein.mine")),
    rows.length ? list : h("p", {}, t("movein.none")),
    h("div", { class: "row" },
      h("button", { class: "primary", onclick: () => openWizard() }, t("movein.start")),
      h("button", { onclick: goHome }, t("back")))));
}

// The server's answer for one inspection: each reading confirmed or flagged with both values,
// and the rectification tickets it opened (the sync result; the server's list has counts).
function resultView(result) {
  const box = h("div", { class: "mi-result" });
  for (const r of result.readings || []) {
    const status = r.status || "no_meter";
    const uom = t(`movein.uom.${r.quantity}`);
    box.append(h("p", { class: `mi-reading ${status}`, "data-quantity": r.quantity, "data-status": status },
      h("strong", {}, t(`movein.meter.${r.quantity}`), " "), t(`movein.reading.${status}`),
      " · ", t("movein.typed", { v: `${r.typed ?? "—"} ${uom}` }),
      r.smart == null ? null : ` · ${t("movein.smart", { v: `${r.smart} ${uom}` })}`,
      r.ticket_id ? ` · #${r.ticket_id}` : null));
  }
  const tickets = result.tickets || [];
  if (tickets.length) {
    box.append(h("p", { class: "mi-tickets", "data-count": tickets.length },
      t("movein.tickets", { n: tickets.length }), " ", tickets.map((x) => `#${x}`).join(" ")));
  }
  if (!result.readings && (result.defects != null || result.flagged != null)) {
    box.append(h("p", {}, t("movein.counts", { d: result.defects ?? 0, f: result.flagged ?? 0 })));
  }
  return box;
}
