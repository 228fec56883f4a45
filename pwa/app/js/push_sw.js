// The service worker's half of Web Push: a push becomes a notification (title, body, tag
// `ticket-N`, the ticket's url; critical ones stay on screen and vibrate), and tapping it opens
// the ticket in the app. Payload: server/push/schemas.py PushPayload (docs/push.md).

const CRITICAL_VIBRATION = [600, 200, 600, 200, 600];

/** The notification a push payload shows: [title, options]. */
export function notificationFor(payload, scope) {
  const critical = payload.severity === "critical" || payload.require_interaction === true;
  const url = new URL(payload.url || `#/tickets/${payload.ticket_id ?? ""}`, scope).href;
  const options = {
    body: payload.body || "",
    tag: payload.tag || (payload.ticket_id ? `ticket-${payload.ticket_id}` : "fieldops"),
    data: { url, ticket_id: payload.ticket_id ?? null, step: payload.step ?? null, severity: payload.severity ?? null },
    icon: new URL("icons/icon-192.png", scope).href,
    badge: new URL("icons/icon-192.png", scope).href,
    timestamp: Date.parse(payload.sent_at) || Date.now(),
    requireInteraction: !!payload.require_interaction,
    // The tag replaces an older notification for the same ticket; a critical one or an
    // escalation must still alert again rather than change silently.
    renotify: critical || String(payload.step || "").startsWith("escalated"),
  };
  if (critical) options.vibrate = CRITICAL_VIBRATION;
  return [payload.title || "fieldops", options];
}

function readPayload(data) {
  if (!data) return {};
  try {
    return data.json();
  } catch {
    return { body: data.text() }; // not JSON: still show it (userVisibleOnly promises a notification)
  }
}

/** The `push` event: show the notification, and tell open app windows (the inbox refreshes). */
export async function onPush(sw, data) {
  const payload = readPayload(data);
  if (!payload.title && !payload.body) payload.title = "新的派单 / New dispatch";
  const [title, options] = notificationFor(payload, sw.registration.scope);
  await sw.registration.showNotification(title, options);
  for (const client of await sw.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    client.postMessage({ type: "fieldops-push", payload });
  }
}

/** A tap on the notification: focus an open app window and show the ticket there, or open one. */
export async function openTicket(sw, url) {
  const target = new URL(url || "#/inbox", sw.registration.scope).href;
  const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
  const app = windows.find((c) => c.url.startsWith(sw.registration.scope));
  if (app) {
    app.postMessage({ type: "fieldops-open", url: target }); // the app routes without a reload
    try {
      await app.focus();
    } catch { /* focusing needs the tap's user activation; the window still shows the ticket */ }
    return app;
  }
  return sw.clients.openWindow(target);
}
