// The phone app's shell: login, today's list, scanning, checklists, the outbox view.
import { ApiError, login, refreshToken, request } from "./api.js";
import { get, kvGet, kvSet, put } from "./db.js";
import * as i18n from "./i18n.js";
import { local, t, when } from "./i18n.js";
import * as outbox from "./outbox.js";
import * as checklist from "./checklist.js";
import * as scan from "./scan.js";
import * as inbox from "./inbox.js";
import * as ticketPage from "./ticket.js";
import * as push from "./push.js";
import * as movein from "./movein.js";
import * as walkIn from "./walk_in.js";
import { loadDraft as moveInDraft } from "./movein_data.js";

const view = document.getElementById("view");
const $ = (sel) => document.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

function toast(text, kind = "info") {
  const el = $("#toast");
  el.textContent = text;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 8000 : 4000);
}

// ---- cached server data (the app works offline after the first load) -------------------
async function cached(key) {
  return (await get("cache", key))?.value ?? null;
}

async function refreshData() {
  for (const [key, path] of [["estate", "api/estate"], ["checkpoints", "api/patrols/checkpoints"],
    ["templates", "api/patrols/templates"], ["today", "api/patrols/today"]]) {
    try {
      const { data } = await request("GET", path);
      await put("cache", { key, value: data, at: new Date().toISOString() });
      if (key === "estate" && data?.timezone) i18n.setTimeZone(data.timezone);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) await kvSet("need_login", true);
      return;
    }
  }
  await movein.refresh(); // units, the move-in checklist, second inspections due
}

// ---- status bar -------------------------------------------------------------------------
async function renderStatus(s) {
  s = s || (await outbox.status());
  $("#net").textContent = navigator.onLine ? t("status.online") : t("status.offline");
  $("#net").className = navigator.onLine ? "net on" : "net off";
  $("#pending").textContent = s.pending ? t("status.pending", { n: s.pending }) : t("status.synced");
  $("#pending").className = s.pending ? "badge warn" : "badge ok";
  $("#last-sync").textContent = s.lastSync ? t("status.last_sync", { t: when(s.lastSync) }) : t("status.never");
  const banner = $("#conflict");
  if (s.blocked) {
    banner.hidden = false;
    banner.textContent = s.blocked.state === "conflict" ? t("pending.conflict")
      : t("pending.rejected", { status: s.blocked.error?.status, detail: s.blocked.error?.detail });
  } else banner.hidden = true;
}

// ---- views ------------------------------------------------------------------------------
function showLogin(message) {
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "login" },
    h("h2", {}, t("login.title")),
    h("label", {}, t("login.username"), h("input", { name: "username", autocomplete: "username", required: true })),
    h("label", {}, t("login.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    error, h("button", { type: "submit", class: "primary big" }, t("login.submit")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const user = await login(form.username.value, form.password.value);
      const previous = await kvGet("user_id");
      await kvSet("user_id", user.id);
      await kvSet("need_login", false);
      if (previous && previous !== user.id) await put("cache", { key: "today", value: null });
      await refreshData();
      outbox.sync({ force: true });
      inbox.afterLogin();
      routeView();
    } catch {
      error.textContent = t("login.failed");
    }
  });
  view.replaceChildren(form);
}

// Counts the views opened, so a refresh finishing in the background never replaces one the
// specialist opened meanwhile.
let navigations = 0;

// Addresses (#/inbox, #/tickets/{id}: what a tapped notification opens) → their views; else home.
function routeView() {
  scan.stop();
  return ticketPage.route() ?? inbox.route() ?? movein.route() ?? walkIn.route() ?? showHome();
}

async function showHome() {
  navigations += 1;
  scan.stop();
  const today = await cached("today");
  const moveIn = await movein.homeSection();
  const list = h("ul", { class: "today" });
  for (const item of today?.items || []) {
    list.append(h("li", { class: item.overdue ? "overdue" : "" },
      h("strong", {}, item.label),
      h("span", {}, item.overdue ? t("home.overdue") : t("home.due", { t: when(item.due_by) }),
        " · ", t("home.done", { done: item.done, required: item.required }))));
  }
  view.replaceChildren(
    inbox.entry(),
    h("button", { class: "primary huge", id: "scan-button", onclick: showScan }, t("home.scan")),
    walkIn.entry(),
    h("div", { class: "row" },
      h("button", { id: "sync-button", onclick: async () => { await outbox.sync({ force: true }); await refreshData(); } }, t("home.sync")),
      h("button", { onclick: showPending }, t("home.pending")),
      h("button", { onclick: showSettings }, t("home.settings"))),
    moveIn,
    h("h2", {}, t("home.today")),
    today?.items?.length ? list : h("p", {}, t("home.empty")));
}

function showScan() {
  navigations += 1;
  const video = h("video", { id: "camera", muted: true, playsinline: true });
  const message = h("p", { class: "error", role: "alert", id: "scan-message" });
  const manual = h("input", { name: "code", id: "manual-code", placeholder: t("scan.manual_placeholder"), autocapitalize: "off" });
  const torch = h("button", { id: "torch", hidden: true, onclick: async () => {
    torch.classList.toggle("on");
    await scan.setTorch(torch.classList.contains("on")).catch(() => {});
  } }, t("scan.torch"));
  view.replaceChildren(
    h("h2", {}, t("scan.title")), video, message,
    h("div", { class: "row" }, torch, h("button", { onclick: showHome }, t("scan.cancel"))),
    h("form", { class: "manual", onsubmit: (e) => { e.preventDefault(); accept(manual.value, "manual", message); } },
      h("label", { for: "manual-code" }, t("scan.manual")), manual,
      h("button", { type: "submit", class: "primary" }, t("scan.open"))));
  scan.start(video, (code) => accept(code, "qr", message, video))
    .then(() => { torch.hidden = !scan.torchSupported(); })
    .catch(() => { message.textContent = t("scan.no_camera"); });
}

async function accept(text, via, message, video) {
  const tag = scan.parseTag(text);
  const checkpoints = (await cached("checkpoints")) || [];
  const checkpoint = tag && checkpoints.find((c) => c.id === tag.id);
  let refusal = null;
  if (!tag || !checkpoint) refusal = tag ? t("scan.unknown") : t("scan.unknown");
  else if (checkpoint.tag !== tag.content) refusal = t("scan.forged"); // valid QR, wrong signature
  if (refusal) {
    message.textContent = refusal;
    toast(refusal, "error");
    if (video) setTimeout(() => scan.start(video, (c) => accept(c, "qr", message, video)).catch(() => {}), 1500);
    return;
  }
  scan.stop();
  await outbox.enqueue("scan", { tag: tag.content, via });
  showChecklist(checkpoint, via);
}

async function showChecklist(checkpoint, via) {
  navigations += 1;
  const templates = (await cached("templates")) || [];
  const template = templates.find((tp) => tp.name === checkpoint.template);
  const startedAt = new Date().toISOString();
  let hints = null;
  if (navigator.onLine) {
    try {
      hints = (await request("GET", `api/patrols/checkpoints/${checkpoint.id}`)).data.hints;
    } catch { /* offline in a stairwell: no hints, the checklist works all the same */ }
  }
  checklist.render(view, template, checkpoint, hints, async ({ answers, photos }) => {
    await outbox.enqueue("patrol_run", {
      tag: checkpoint.tag, via, template: template.name, template_version: template.version,
      started_at: startedAt, finished_at: new Date().toISOString(), answers,
    }, photos);
    toast(t("check.saved"));
    if (navigator.onLine) outbox.sync({ force: true });
    showHome();
  });
}

async function showPending() {
  navigations += 1;
  const exported = await outbox.exportAll();
  const list = h("ul", { class: "pending" });
  for (const item of exported.items) {
    const error = item.state === "conflict" ? t("pending.conflict")
      : item.state === "rejected" ? t("pending.rejected", { status: item.error?.status, detail: item.error?.detail }) : null;
    list.append(h("li", { class: item.state, "data-id": item.id },
      h("strong", {}, t(`pending.kind.${item.kind}`)), " ", when(item.device_time),
      walkIn.summary(item) ? h("div", { class: "summary" }, walkIn.summary(item)) : null,
      error ? h("p", { class: "error" }, error) : null,
      error ? h("button", { onclick: async () => {
        download({ ...exported, items: [item] }, `fieldops-${item.id}.json`);
        await outbox.discard(item.seq);
        showPending();
      } }, t("pending.discard")) : null));
  }
  view.replaceChildren(h("h2", {}, t("pending.title")),
    exported.items.length ? list : h("p", {}, t("pending.empty")),
    h("div", { class: "row" },
      h("button", { onclick: () => download(exported, "fieldops-outbox.json") }, t("pending.export")),
      h("button", { onclick: showHome }, t("back"))));
}

function download(data, name) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 1)], { type: "application/json" }));
  h("a", { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showSettings() {
  navigations += 1;
  const message = h("p", { class: "error", role: "alert", id: "logout-message" });
  const exportLogout = h("button", { id: "export-logout", hidden: true, onclick: async () => {
    download(await outbox.exportAll(), "fieldops-outbox.json");
    await logout(true);
  } }, t("settings.export_logout"));
  view.replaceChildren(h("h2", {}, t("settings.title")),
    h("label", {}, t("settings.language"),
      h("select", { id: "lang", onchange: async (e) => { await kvSet("lang", e.target.value); await i18n.load(e.target.value); chrome(); showSettings(); } },
        h("option", { value: "zh-CN", selected: i18n.lang === "zh-CN" }, "简体中文"),
        h("option", { value: "en", selected: i18n.lang === "en" }, "English"))),
    inbox.pushControl(),
    h("button", { id: "logout", class: "danger big", onclick: async () => {
      const n = await outbox.pendingCount();
      if (n) { message.textContent = t("settings.logout_refused", { n }); exportLogout.hidden = false; return; }
      // An unfinished move-in holds an owner's readings and signature: the next user of this
      // phone must not see it, and it must not vanish unnoticed either.
      if (await moveInDraft()) { message.textContent = t("settings.logout_draft"); return; }
      await logout(false);
    } }, t("settings.logout")), message, exportLogout,
    h("button", { onclick: showHome }, t("back")));
}

async function logout(exported) {
  // Pending work is never discarded silently: only after it was synced or exported.
  if (!exported && (await outbox.pendingCount())) return;
  await push.disable(); // DELETE the subscription while the token still works
  await kvSet("token", null);
  await kvSet("need_login", false);
  if (exported) {
    const { items } = await outbox.exportAll();
    for (const item of items) await outbox.discard(item.seq);
  }
  showLogin();
}

function chrome() {
  document.title = t("app.title");
  $("#title").textContent = t("app.title");
  $("#update-text").textContent = t("update.available");
  $("#update-button").textContent = t("update.reload");
  renderStatus();
}

// ---- service worker: offline shell, update prompt, Background Sync ------------------------
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.register("sw.js", { type: "module", scope: "./" });
  const prompt = (worker) => {
    $("#update").hidden = false;
    $("#update-button").onclick = () => worker.postMessage({ type: "SKIP_WAITING" });
  };
  if (registration.waiting && navigator.serviceWorker.controller) prompt(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) prompt(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloading || !$("#update").dataset.accepted) return;
    reloading = true;
    location.reload();
  });
  $("#update-button").addEventListener("click", () => { $("#update").dataset.accepted = "1"; });
}

async function main() {
  await i18n.load(i18n.pick(await kvGet("lang")));
  const estate = await cached("estate");
  if (estate?.timezone) i18n.setTimeZone(estate.timezone);
  chrome();
  outbox.onChange(renderStatus);
  if (typeof BroadcastChannel !== "undefined") new BroadcastChannel("fieldops-outbox").onmessage = (e) => renderStatus(e.data);
  addEventListener("online", async () => { renderStatus(); await outbox.sync({ force: true }); await refreshData(); });
  addEventListener("offline", () => renderStatus());
  const shell = { view, home: showHome, toast };
  inbox.init(shell);
  ticketPage.init(shell);
  movein.init(shell);
  walkIn.init(shell);
  addEventListener("hashchange", async () => {
    navigations += 1;
    if ((await kvGet("token")) && !(await kvGet("need_login"))) routeView();
  });
  registerWorker().catch(() => {});
  const token = await kvGet("token");
  if (!token) return showLogin();
  if (await kvGet("need_login")) return showLogin(t("login.again"));
  await routeView();
  const landed = navigations;
  if (navigator.onLine) {
    try {
      await refreshToken();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) { await kvSet("need_login", true); return showLogin(t("login.again")); }
    }
    await outbox.sync({ force: true });
    await refreshData();
    inbox.afterLogin();
    // Show the fresh data, unless the specialist opened another view meanwhile (Pending, the
    // scanner) or is filling in a form.
    if (navigations === landed && !view.querySelector("form")) routeView();
  }
  // Retry on the backoff schedule while the app is open.
  setInterval(() => outbox.sync(), 5000);
}

main();
