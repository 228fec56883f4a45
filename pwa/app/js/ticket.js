// One ticket (#/tickets/{id}, what a tapped notification opens): details, SLA countdown,
// timeline (server time, and the phone's time where a phone sent it), and the same steps as
// the inbox. #/tickets/{id}/resolve asks for the note and an optional photo. Offline it shows
// the cached copy and my pending steps.
import { t } from "./i18n.js";
import * as outbox from "./outbox.js";
import { resize } from "./photo.js";
import { act, cachedTicket, fetchTicket, onMyWayAt, onStepsChange, overlay, pendingSteps } from "./inbox_store.js";
import {
  actionButtons, actionLabel, countdown, deadline, h, kindLabel, loadClockOffset, notes, place, severityLabel, stateLine,
  time,
  toast,
} from "./ticket_ui.js";

const ROUTE = /^#\/tickets\/(\d+)(\/resolve)?$/;
let ctx = null; // { view, home, toast } from the shell

export function init(shell) {
  ctx = shell;
  onStepsChange(async ({ synced }) => {
    const m = location.hash.match(ROUTE);
    if (!m || m[2] || !ctx.view.querySelector("[data-view=ticket]")) return; // never under a note being typed
    if (synced && navigator.onLine) await fetchTicket(Number(m[1])).catch(() => {});
    render(Number(m[1]), false);
  });
}

/** The view for #/tickets/{id}[/resolve], or null when the address is not a ticket's. */
export function route() {
  const m = location.hash.match(ROUTE);
  if (!m) return null;
  return show(Number(m[1]), !!m[2]);
}

export async function show(id, resolving) {
  await render(id, resolving);
  scrollTo(0, 0); // a new page starts at its top, not where the inbox list was scrolled to
  if (!navigator.onLine) return;
  try {
    await fetchTicket(id);
  } catch (error) {
    if (error?.status === 404) return render(id, resolving, t("ticket.not_found"));
    return; // offline after all: the cached copy stays
  }
  // Do not redraw under a note being typed.
  if (!resolving) await render(id, false);
}

async function render(id, resolving, problem = null) {
  await loadClockOffset();
  const ticket = await cachedTicket(id);
  const current = location.hash.match(ROUTE);
  if (!current || Number(current[1]) !== id) return; // the specialist moved on while this loaded
  const back = h("button", { class: "big", id: "ticket-back", onclick: () => { location.hash = "#/inbox"; } }, t("ticket.back"));
  if (!ticket) {
    ctx.view.replaceChildren(h("section", { "data-view": "ticket", "data-ticket-id": String(id) },
      h("h2", {}, t("ticket.number", { id })),
      h("p", { class: "error" }, problem || (navigator.onLine ? t("ticket.loading") : t("ticket.not_cached"))), back));
    return;
  }
  const steps = (await pendingSteps()).get(id) || [];
  const view = overlay({ ...ticket, on_my_way_at: onMyWayAt(ticket) }, steps);
  const rerender = () => render(id, false);
  ctx.view.replaceChildren(h("section", { "data-view": "ticket", "data-ticket-id": String(id),
    "data-status": view.status, class: `ticket-page sev-${view.severity}` },
  h("div", { class: "head" },
    h("span", { class: `sev sev-${view.severity}` }, severityLabel(view.severity)),
    h("span", { class: "kind" }, kindLabel(view.kind)),
    h("span", { class: "num" }, `#${view.id}`)),
  h("h2", { id: "ticket-title" }, view.title),
  h("p", { class: "place" }, place(view)),
  h("p", { class: "sla-line" }, countdown(view)),
  stateLine(view),
  ...notes(view),
  problem ? h("p", { class: "error" }, problem) : null,
  resolving ? resolveForm(view) : actionButtons(view, rerender),
  facts(view),
  h("h3", {}, t("ticket.timeline")),
  timeline(view),
  back));
}

function facts(view) {
  const rows = [
    ["opened", time(view.opened_at)],
    ["description", view.description],
    ["requester", view.requester_name],
    ["phone", view.requester_phone ? h("a", { href: `tel:${view.requester_phone}`, class: "tel" }, view.requester_phone) : null],
    ["on_site_due", view.on_site_due_at ? deadline(view.on_site_due_at) : null],
    ["resolve_due", view.resolve_due_at ? deadline(view.resolve_due_at) : null],
    ["on_site_at", view.on_site_at ? time(view.on_site_at, true) : null],
    ["department", view.department ? t(`ticket.department.${view.department}`) : null],
    ["occurrences", view.occurrences > 1 ? String(view.occurrences) : null],
  ].filter(([, v]) => v);
  return h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, t(`ticket.field.${k}`)), h("dd", {}, v)]));
}

function timeline(view) {
  const list = h("ol", { class: "timeline", id: "ticket-timeline" });
  for (const entry of view.audit || []) {
    const d = entry.detail || {};
    list.append(h("li", { "data-action": entry.action },
      h("strong", {}, actionLabel(entry.action)), " ",
      h("span", { class: "at" }, time(entry.at, true)),
      d.device_time ? h("span", { class: "device-time" }, " ", t("ticket.device_time", { t: time(d.device_time, true) })) : null,
      h("span", { class: "actor" }, " · ", entry.actor),
      d.note ? h("p", { class: "note-text" }, d.note) : null,
      d.assignee ? h("p", {}, t("ticket.assignee", { who: d.assignee })) : null,
      entry.action === "announce_delay" && d.before_deadline === false ? h("p", { class: "error" }, t("ticket.announced_late")) : null));
  }
  for (const step of view.pending || []) {
    list.append(h("li", { class: `local ${step.state}`, "data-action": step.action },
      h("strong", {}, actionLabel(step.action)), " ",
      h("span", { class: "at" }, time(step.device_time, true)), " ",
      h("span", { class: "pending-sync" }, step.state === "pending" ? t("ticket.pending_sync") : t("ticket.refused_short"))));
  }
  return list;
}

function resolveForm(view) {
  let photo = null;
  const error = h("p", { class: "error", role: "alert", id: "resolve-error" });
  const note = h("textarea", { name: "resolve-note", id: "resolve-note", rows: 4, maxlength: 2000,
    placeholder: t("ticket.resolve_note_placeholder") });
  const photoLabel = h("label", { class: "button photo" }, t("ticket.resolve_photo"));
  photoLabel.append(h("input", { type: "file", accept: "image/*", capture: "environment", name: "resolve-photo",
    class: "visually-hidden", onchange: async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      photo = { id: outbox.uuid(), blob: await resize(file) };
      photoLabel.firstChild.textContent = t("ticket.resolve_photo_added");
      photoLabel.classList.add("done");
    } }));
  const form = h("form", { class: "resolve", id: "resolve-form", novalidate: true },
    h("h3", {}, t("ticket.resolve_title")),
    h("label", { for: "resolve-note" }, t("ticket.resolve_note")), note, photoLabel, error,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary big", id: "resolve-submit" }, t("ticket.resolve_submit")),
      h("button", { type: "button", onclick: () => { location.hash = `#/tickets/${view.id}`; } }, t("ticket.cancel"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = note.value.trim();
    if (!text) { error.textContent = t("ticket.resolve_need_note"); note.focus(); return; }
    form.querySelector("#resolve-submit").disabled = true;
    // The photo goes up first (PUT /api/attachments/{uuid}), then the step that names it.
    await act(view.id, "resolve", { note: text, attachment_ids: photo ? [photo.id] : [] }, photo ? [photo] : []);
    toast(navigator.onLine ? t("ticket.done.resolve") : t("ticket.saved_offline"));
    location.hash = "#/inbox";
  });
  return form;
}
