// Web Push on the phone (docs/push.md): subscribe with the server's VAPID key after the
// specialist taps "enable alarm notifications" (browsers only ask for permission from a tap),
// refresh the subscription on every start (POST is idempotent by endpoint, and re-binds a
// shared phone to whoever is logged in now), unsubscribe on logout. The service worker shows
// the notifications (push_sw.js); this module also hears it when a push arrived or a
// notification was tapped.
import { request } from "./api.js";
import { kvGet, kvSet } from "./db.js";

const READY_TIMEOUT_MS = 10_000;

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in globalThis && "Notification" in globalThis;
}

async function registration() {
  // `ready` never settles when the worker failed to register: do not hang the inbox on it.
  return Promise.race([navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker")), READY_TIMEOUT_MS))]);
}

async function currentSubscription() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration();
  return reg ? reg.pushManager.getSubscription() : null;
}

/** on: subscribed and the server has it; off: not yet; denied; failed (the browser could not
 *  subscribe, e.g. no push service reachable); unsupported (no PushManager). */
export async function state() {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  if (await active()) return "on";
  if (Notification.permission === "granted" && (await kvGet("push_failed"))) return "failed";
  return "off";
}

/** Whether pushes reach this phone now (else the inbox polls). */
export async function active() {
  if (!supported() || Notification.permission !== "granted") return false;
  try {
    const sub = await currentSubscription();
    return !!sub && sub.endpoint === (await kvGet("push_endpoint"));
  } catch {
    return false;
  }
}

/** From a tap: ask for permission, subscribe, tell the server. {ok, reason}. */
export async function enable() {
  if (!supported()) return { ok: false, reason: "unsupported" };
  // First thing in the tap's task: the permission prompt needs the user gesture.
  const permission = await Notification.requestPermission();
  if (permission === "denied") return { ok: false, reason: "denied" };
  if (permission !== "granted") return { ok: false, reason: "dismissed" };
  return subscribe();
}

/** On app start and after login: keep the server's copy current when permission was given. */
export async function refresh() {
  if (!supported() || Notification.permission !== "granted" || !navigator.onLine) return { ok: false };
  return subscribe();
}

async function subscribe() {
  let key;
  try {
    key = (await request("GET", "api/push/vapid-public-key")).data.public_key;
  } catch {
    return { ok: false, reason: "offline" };
  }
  try {
    const reg = await registration();
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameKey(sub.options?.applicationServerKey, key)) {
      await sub.unsubscribe(); // bound to another server key: every pushed message would be refused
      sub = null;
    }
    sub ||= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64url(key) });
    const { endpoint, keys } = sub.toJSON();
    await request("POST", "api/push/subscriptions", { json: { endpoint, keys, label: deviceLabel() } });
    await kvSet("push_endpoint", endpoint);
    await kvSet("push_failed", false);
    return { ok: true };
  } catch (error) {
    await kvSet("push_failed", true);
    return { ok: false, reason: "failed", error: String(error) };
  }
}

/** On logout: the server forgets this phone, then the browser drops the subscription. */
export async function disable() {
  try {
    const sub = await currentSubscription();
    if (sub) {
      try {
        await request("DELETE", "api/push/subscriptions", { json: { endpoint: sub.endpoint } });
      } catch { /* offline: after unsubscribe the push service answers 410 and the server drops it */ }
      await sub.unsubscribe();
    }
  } catch { /* logging out must never fail because of push */ }
  await kvSet("push_endpoint", null);
}

/** A local notification through the service worker, to check the phone shows them. */
export async function showLocalTest(title, body) {
  try {
    const reg = await registration();
    await reg.showNotification(title, { body, tag: "fieldops-test", icon: "icons/icon-192.png" });
    return true;
  } catch {
    return false;
  }
}

/** Messages from the service worker: {open(url)} after a notification tap, {pushed(payload)}. */
export function listen({ open, pushed }) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type === "fieldops-open" && typeof data.url === "string") open(data.url);
    if (data.type === "fieldops-push") pushed(data.payload);
  });
  navigator.serviceWorker.startMessages();
}

function deviceLabel() {
  const platform = navigator.userAgentData?.platform || navigator.platform || "";
  const mobile = navigator.userAgentData?.mobile ?? /Mobi|Android|iPhone/.test(navigator.userAgent);
  return `${mobile ? "phone" : "browser"} ${platform}`.trim().slice(0, 100);
}

function fromB64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function sameKey(buffer, text) {
  if (!buffer) return true; // the browser does not say: trust it
  const a = new Uint8Array(buffer);
  const b = fromB64url(text);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
