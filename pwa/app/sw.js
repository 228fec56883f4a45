// Service worker (a module worker): precaches the versioned app shell, deletes old caches on
// activate (MDN pwa-examples), serves the shell offline, and replays the outbox on
// Background Sync (Chromium) with the same code the page uses.
import { sync } from "./js/outbox.js";
import { onPush, openTicket } from "./js/push_sw.js";

const VERSION = "2026-11-27g"; // bump with every shell change: phones then see "update available"
const CACHE = `fieldops-app-${VERSION}`;
const SHELL = [
  "./", "index.html", "manifest.webmanifest", "css/app.css",
  "js/app.js", "js/api.js", "js/db.js", "js/outbox.js", "js/scan.js", "js/checklist.js", "js/i18n.js",
  "js/photo.js", "i18n/zh-CN.json", "i18n/en.json", "vendor/jsQR.js",
  "js/inbox.js", "js/inbox_store.js", "js/ticket.js", "js/ticket_ui.js", "js/push.js", "js/push_sw.js",
  "js/movein.js", "js/movein_data.js", "js/movein_steps.js", "js/movein_sign.js", "js/signature.js",
  "js/walk_in.js",
  "icons/icon.svg", "icons/icon-192.png", "icons/icon-512.png", "icons/icon-maskable-512.png",
];

self.addEventListener("install", (event) => {
  // No skipWaiting here: a new version waits until the specialist accepts the prompt,
  // so a checklist being filled in is never reloaded under their fingers.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("fieldops-app-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith(new URL("./", self.location).pathname)) return; // the API is not cached here
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    if (event.request.mode === "navigate") {
      const shell = await cache.match("index.html");
      try { return await fetch(event.request); } catch { if (shell) return shell; throw new Error("offline"); }
    }
    return fetch(event.request);
  })());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "fieldops-outbox") {
    // A rejection makes the browser retry later with its own backoff.
    event.waitUntil(sync({ force: true }).then((r) => { if (!r.ok && r.reason === "offline") throw new Error("retry"); }));
  }
});

// Web Push (docs/push.md): a dispatch or escalation becomes a notification; a tap opens the ticket.
self.addEventListener("push", (event) => {
  event.waitUntil(onPush(self, event.data));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openTicket(self, event.notification.data?.url));
});
