"""Push on the phone in Chromium against a real `fieldops serve` (issue 7, point 6).

Acceptance: the server sends a dispatch to the subscription; a CDP
`ServiceWorker.deliverPushMessage` with that payload makes the service worker show the
notification; clicking it opens the ticket page.

What headless Chromium here cannot do, and what stands in for it (measured.md):
* `pushManager.subscribe()` needs the browser vendor's push service, unreachable here. The
  page's `PushManager.prototype.subscribe/getSubscription` are replaced (test init script) by
  a stub that returns a subscription at the test's own push receiver (tests/push/receiver.py,
  which checks VAPID and decrypts with http_ece). Everything else is the app's real code: the
  permission request from the tap, the VAPID key it passes, the POST, the DELETE on logout.
  A second test leaves the real `subscribe()` in place and checks the app says it failed and polls.
* CDP has no way to click a notification. The service worker's real `notificationclick`
  listener is run by dispatching a `NotificationEvent` for the shown notification inside the
  worker (Playwright's worker.evaluate). That event is untrusted, so `event.waitUntil` throws
  and `client.focus()` is refused for want of a user gesture; the navigation to the ticket
  (a message to the open window) is the handler's own code path and is what is checked.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.push.receiver import PushReceiver
from tests.pwa.inbox_support import (
    PHONE,
    dispatch,
    log_in,
    require_browser_and_broker,
    until,
    watch_errors,
)
from tests.support.browser import chromium, persistent_chromium
from tests.support.live_server import LiveServer, live_server
from tests.support.publisher import Publisher, event, topic

pytestmark = [pytest.mark.browser, pytest.mark.broker]

STUB = """(() => {
  if (location.origin !== %(origin)s) return;
  const sub = %(subscription)s;
  const KEY = "test.push.subscription";
  const make = () => ({
    endpoint: sub.endpoint, expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: null },
    toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
    unsubscribe: async () => {
      localStorage.removeItem(KEY);
      localStorage.setItem(KEY + ".unsubscribed", "1");
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem(KEY + ".key", btoa(String.fromCharCode(...key))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""));
    localStorage.setItem(KEY + ".userVisibleOnly", String(options.userVisibleOnly));
    localStorage.setItem(KEY, "1");
    return make();
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(KEY) ? make() : null;
  };
})();"""

NOTIFICATIONS = """async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction, renotify: n.renotify,
    vibrate: Array.from(n.vibrate || []), data: n.data }));
}"""

CLICK = """async (tag) => {
  const [notification] = await self.registration.getNotifications({ tag });
  if (!notification) return false;
  self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
  return true;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    require_browser_and_broker()
    with live_server(tmp_path_factory.mktemp("push-server"), sqlite_template) as running:
        yield running


@pytest.fixture
def receiver(server: LiveServer) -> Iterator[PushReceiver]:
    """The test's push service, on its own event loop thread (the browser test is synchronous)."""
    with server.api("spec1") as api:
        key = api.get("/api/push/vapid-public-key").json()["public_key"]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    push = PushReceiver(key)
    asyncio.run_coroutine_threadsafe(push.start(), loop).result(timeout=10)
    try:
        yield push
    finally:
        asyncio.run_coroutine_threadsafe(push.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def _trapped_alarm(server: LiveServer, device: str, floor: int) -> dict[str, Any]:
    """elevator.trapped over MQTT, as the lift monitor sends it; returns the alarm ticket."""
    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic(device), event("elevator.trapped", alarm="raise", data={"floor": floor}))
        publisher.flush()
    finally:
        publisher.close()

    def find() -> dict[str, Any] | None:
        with server.api("desk") as api:
            items = api.get("/api/tickets", params={"kind": "alarm", "status": "new"}).json()["items"]
        return next((t for t in items if t["device"] == device), None)

    found: dict[str, Any] = until(find, timeout=20, what=f"the alarm ticket of {device}")
    return found


def _subscriptions(server: LiveServer, username: str = "spec1") -> list[dict[str, Any]]:
    with server.api(username) as api:
        return list(api.get("/api/push/subscriptions").json())


def _registration_id(page: Any, cdp: Any, scope: str) -> str:
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")

    def find() -> str | None:
        page.evaluate("0")  # Playwright's sync API delivers CDP events while it talks to the browser
        return next(
            (r["registrationId"] for r in registrations if r["scopeURL"] == scope and not r.get("isDeleted")),
            None,
        )

    found: str = until(find, what=lambda: f"the service worker registration for {scope}: {registrations}")
    return found


def test_dispatch_push_shows_a_notification_and_its_tap_opens_the_ticket(
    server: LiveServer, receiver: PushReceiver, tmp_path: Path
) -> None:
    base = server.base_url
    phone = receiver.subscription()
    with persistent_chromium(tmp_path / "profile", **PHONE) as context:
        context.add_init_script(STUB % {"origin": json.dumps(base), "subscription": json.dumps(phone)})
        page = context.pages[0] if context.pages else context.new_page()
        errors = watch_errors(page)
        log_in(page, base)
        page.click("#inbox-button")
        control = page.locator("#push-control")
        until(lambda: control.get_attribute("data-state") == "off", what="push off before the tap")
        assert page.evaluate("Notification.permission") == "default"
        # The specialist allows notifications in the prompt that the tap opens.
        context.grant_permissions(["notifications"], origin=base)
        page.click("#push-enable")
        until(lambda: control.get_attribute("data-state") == "on", what="push on")
        assert "报警通知已开启" in control.inner_text()

        # The app subscribed with the server's VAPID key and gave the server the subscription.
        with server.api("spec1") as api:
            vapid = api.get("/api/push/vapid-public-key").json()["public_key"]
            tablet = receiver.subscription()  # a second device of the same person
            assert api.post("/api/push/subscriptions", json={**tablet, "label": "平板"}).status_code == 200
        assert page.evaluate("localStorage.getItem('test.push.subscription.key')") == vapid
        assert page.evaluate("localStorage.getItem('test.push.subscription.userVisibleOnly')") == "true"
        mine = {s["endpoint"]: s for s in _subscriptions(server)}
        assert set(mine) == {phone["endpoint"], tablet["endpoint"]}
        assert mine[phone["endpoint"]]["label"]

        # A trapped passenger: the alarm opens, the desk dispatches it to spec1, the server pushes.
        alarm = _trapped_alarm(server, "b1-el1", 12)
        dispatch(server, alarm["id"])
        pushes = until(
            lambda: (
                [
                    r
                    for r in receiver.accepted()
                    if r.payload
                    and r.payload["ticket_id"] == alarm["id"]
                    and r.payload["step"] == "dispatched"
                ]
                if len(receiver.accepted()) >= 2
                else None
            ),
            timeout=20,
            what=lambda: f"two pushes, got {receiver.received}",
        )
        assert {p.path for p in pushes} == {"/push/1", "/push/2"}  # one per device
        payload = pushes[0].payload
        assert payload is not None
        assert payload["url"] == f"/app/#/tickets/{alarm['id']}"
        assert payload["require_interaction"] is True

        # The decrypted payload, delivered to the service worker through CDP.
        cdp = context.new_cdp_session(page)
        registration = _registration_id(page, cdp, f"{base}/app/")
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": base, "registrationId": registration, "data": json.dumps(payload)},
        )
        tag = f"ticket-{alarm['id']}"
        shown = until(lambda: page.evaluate(NOTIFICATIONS, tag), what="the notification")
        assert len(shown) == 1
        note = shown[0]
        assert note["title"] == payload["title"]
        assert note["body"] == payload["body"]
        assert note["tag"] == tag
        assert note["requireInteraction"] is True
        assert note["renotify"] is True
        assert note["vibrate"]
        assert note["vibrate"][0] > 0
        assert note["data"]["url"] == f"{base}/app/#/tickets/{alarm['id']}"
        # The open inbox heard of the push and fetched the new alarm, critical on top.
        until(
            lambda: page.locator("li.ticket").first.get_attribute("data-ticket-id") == str(alarm["id"]),
            what="the alarm at the top of the inbox",
        )

        # Tap it (see the module docstring): the app shows the ticket page.
        page.evaluate("location.hash = ''")
        page.wait_for_selector("#scan-button")
        worker = next(w for w in context.service_workers if w.url.endswith("/app/sw.js"))
        assert worker.evaluate(CLICK, tag) is True
        page.wait_for_selector(f"[data-view=ticket][data-ticket-id='{alarm['id']}']")
        assert page.evaluate("location.hash") == f"#/tickets/{alarm['id']}"
        assert "困" in page.inner_text("#ticket-title")
        assert page.is_visible("[data-view=ticket] button[data-action=arrive]")
        until(lambda: page.evaluate(NOTIFICATIONS, tag) == [], what="the notification closed")

        # Logging out forgets this phone on the server and in the browser; the tablet stays.
        page.evaluate("location.hash = ''")
        page.click("text=设置")
        page.click("#logout")
        page.wait_for_selector("form.login")
        assert [s["endpoint"] for s in _subscriptions(server)] == [tablet["endpoint"]]
        assert page.evaluate("localStorage.getItem('test.push.subscription.unsubscribed')") == "1"
        assert not errors, errors


def test_where_the_browser_cannot_subscribe_the_inbox_says_so_and_polls(server: LiveServer) -> None:
    base = server.base_url
    with chromium() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, base, "spec1")
        page.click("#inbox-button")
        control = page.locator("#push-control")
        until(lambda: control.get_attribute("data-state") == "off", what="push off")
        context.grant_permissions(["notifications"], origin=base)
        page.click("#push-enable")
        # The real pushManager.subscribe() cannot reach a push service here (measured.md).
        until(lambda: control.get_attribute("data-state") == "failed", what="subscription failed")
        assert "无法订阅" in control.inner_text()
        assert "每 30 秒" in control.inner_text()
        assert page.locator("#toast").inner_text() == "此设备暂时无法订阅推送。"
        assert all(not s["endpoint"].startswith(base) for s in _subscriptions(server))
        assert not errors, errors
        context.close()
