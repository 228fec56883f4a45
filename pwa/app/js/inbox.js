// The dispatch inbox (#/inbox): the tickets assigned to me, critical first, with their SLA
// countdown and the steps I may take. Works offline from the IndexedDB cache; my steps go
// through the outbox and show as "pending sync" until the server has them. Without push
// (no PushManager, permission refused, or not enabled) the inbox polls while open and visible.
import { t } from "./i18n.js";
import * as push from "./push.js";
import { cachedInbox, inboxViews, onStepsChange, refresh } from "./inbox_store.js";
import {
  actionButtons, countdown, h, kindLabel, loadClockOffset, notes, place, severityLabel, stateLine, time, toast,
} from "./ticket_ui.js";

const POLL_WITHOUT_PUSH_MS = 30_000;
const POLL_WITH_PUSH_MS = 120_000; // a push may be lost (sent at most once): a slow safety net

let ctx = null; // { view, home, toast } from the shell
let timer = null;

export function init(shell) {
  ctx = shell;
  onStepsChange(async ({ synced }) => {
    if (!shown()) return;
    if (synced && navigator.onLine) await refreshQuietly(); // the server's state replaces the optimistic one
    render();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && shown()) refreshQuietly().then(render);
  });
  addEventListener("online", async () => {
    await refreshQuietly();
    if (shown()) render();
    else updateEntry();
  });
  push.listen({
    open: (url) => {
      const hash = new URL(url, location.href).hash || "#/inbox";
      if (location.hash === hash) dispatchEvent(new HashChangeEvent("hashchange"));
      else location.hash = hash;
    },
    pushed: async () => {
      await refreshQuietly();
      if (shown()) render();
      else updateEntry();
    },
  });
}

/** After a login and on app start: the server's list, and the push subscription kept current. */
export async function afterLogin() {
  push.refresh().catch(() => {});
  if (await refreshQuietly()) {
    if (shown()) render();
    else updateEntry();
  }
}

/** The view for #/inbox, or null when the address is not the inbox's. */
export function route() {
  if (location.hash === "#/inbox") return show();
  return null;
}

function shown() {
  return !!ctx?.view.querySelector("[data-view=inbox]");
}

async function refreshQuietly() {
  if (!navigator.onLine) return false;
  try {
    await refresh();
    return true;
  } catch {
    return false; // offline in a stairwell, or the login expired: the cache is shown
  }
}

export async function show() {
  await render();
  scrollTo(0, 0);
  startPolling();
  if (await refreshQuietly()) await render();
}

async function startPolling() {
  clearInterval(timer);
  const every = (await push.active()) ? POLL_WITH_PUSH_MS : POLL_WITHOUT_PUSH_MS;
  timer = setInterval(async () => {
    if (!shown()) { clearInterval(timer); timer = null; return; }
    if (document.visibilityState !== "visible") return;
    if (await refreshQuietly()) render();
  }, every);
}

async function render() {
  await loadClockOffset();
  const { items, at } = await inboxViews();
  const list = h("ul", { class: "inbox", id: "inbox-list" });
  for (const view of items) list.append(row(view));
  const root = h("section", { "data-view": "inbox" },
    h("h2", {}, t("inbox.title")),
    pushControl({ compact: true }),
    h("p", { class: "sub", id: "inbox-updated" },
      at ? t("inbox.updated", { t: time(at, true) }) : t("inbox.never"),
      navigator.onLine ? "" : ` · ${t("inbox.offline_cached")}`),
    items.length ? list : h("p", { class: "empty" }, t("inbox.empty")),
    h("div", { class: "row" },
      h("button", { id: "inbox-refresh", onclick: async () => {
        if (!(await refreshQuietly())) toast(t("inbox.refresh_failed"), "error");
        render();
      } }, t("inbox.refresh")),
      h("button", { onclick: () => { location.hash = ""; } }, t("back"))));
  if (location.hash !== "#/inbox") return; // the specialist moved on while this was loading
  ctx.view.replaceChildren(root);
}

function row(view) {
  const open = () => { location.hash = `#/tickets/${view.id}`; };
  return h("li", { class: `ticket sev-${view.severity}`, "data-ticket-id": String(view.id),
    "data-severity": view.severity, "data-status": view.status },
  h("div", { class: "head" },
    h("span", { class: `sev sev-${view.severity}` }, severityLabel(view.severity)),
    h("span", { class: "kind" }, kindLabel(view.kind)),
    countdown(view)),
  h("a", { class: "title", href: `#/tickets/${view.id}`, onclick: (e) => { e.preventDefault(); open(); } }, view.title),
  h("div", { class: "place" }, place(view), " · ", t("inbox.opened", { t: time(view.opened_at) })),
  stateLine(view),
  ...notes(view),
  actionButtons(view, render));
}

// ---- the home view's entry ------------------------------------------------------------------
/** A big button on the home view: my open tickets, red when one of them is critical. */
export function entry() {
  const button = h("button", { id: "inbox-button", class: "big inbox-entry", onclick: () => { location.hash = "#/inbox"; } },
    t("inbox.entry", { n: "…" }));
  fillEntry(button);
  return button;
}

async function fillEntry(button) {
  const { items } = await cachedInbox();
  const critical = items.filter((i) => i.severity === "critical").length;
  button.textContent = t("inbox.entry", { n: items.length });
  if (critical) button.append(h("span", { class: "badge crit" }, t("inbox.critical_n", { n: critical })));
  button.classList.toggle("has-critical", critical > 0);
}

function updateEntry() {
  const button = document.getElementById("inbox-button");
  if (button) fillEntry(button);
}

// ---- "enable alarm notifications" -----------------------------------------------------------
/** The push switch: a button while off (permission is asked from this tap), a line once on. */
export function pushControl({ compact = false } = {}) {
  const box = h("div", { class: "push-control", id: compact ? "push-control" : "push-settings" });
  const draw = async () => {
    const state = await push.state();
    box.dataset.state = state;
    if (state === "on") {
      box.replaceChildren(h("p", { class: "note ok" }, t("push.on")),
        compact ? null : h("button", { id: "push-test", onclick: async () => {
          const ok = await push.showLocalTest(t("push.test_title"), t("push.test_body"));
          if (!ok) toast(t("push.failed"), "error");
        } }, t("push.test")));
      return;
    }
    const message = {
      unsupported: t("push.unsupported"), denied: t("push.denied"), off: t("push.off"), failed: t("push.failed"),
    }[state] || "";
    const button = state === "off" || state === "failed" ? h("button", { id: "push-enable", class: "primary big", onclick: async () => {
      button.disabled = true;
      const result = await push.enable(); // asks for permission: must run from this tap
      if (!result.ok) toast(t(`push.${result.reason}`), "error");
      else toast(t("push.enabled"));
      // Every switch on screen, not only this one: the inbox may have been redrawn meanwhile.
      for (const el of document.querySelectorAll(".push-control")) await el.draw?.();
      if (shown()) startPolling();
    } }, t("push.enable")) : null;
    box.replaceChildren(h("p", { class: "note", id: "push-message" }, message, " ", t("push.polling")), button);
  };
  box.draw = draw;
  draw();
  return box;
}
