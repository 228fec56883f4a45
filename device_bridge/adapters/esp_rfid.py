"""esp-rfid: ESP8266/ESP32 RFID door controllers (github.com/esprfid/esp-rfid).

Vendor shape (esp-rfid ``mqtt.esp`` / ``rfid.esp``): the access log is
published as JSON on ``<topic>`` (0.x) or ``<topic>/send`` (1.x, with
``cmd``), one message per card presented::

    {"cmd":"log","type":"access","time":1764116102,"isKnown":"true",
     "access":"Always","username":"Zhang Wei","uid":"a3f09b12","door":"b1-main"}

``isKnown`` is the string ``"true"``/``"false"``; ``access`` is ``Always`` or
``Admin`` when the door opened, else ``Disabled``, ``Expired``,
``Wrong pin code`` or ``Denied`` (unknown card). ``time`` is the controller's
Unix clock (0 until NTP sync). Heartbeats (``"type":"heartbeat"``, also the
historical misspelling ``hearthbeat``) and ``boot`` messages mark the
controller online.

Translation: ``access.granted`` / ``access.denied`` with ``data.card`` (the
UID), ``data.door``, ``data.known`` and the controller's ``data.reason``. The
user name is personal data and is not forwarded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from device_bridge.adapters.base import Adapter
from device_bridge.cards import normalize_card
from device_bridge.model import Ignored, Reject, as_bool, decode_object, parse_vendor_time

GRANTED = frozenset({"always", "admin"})


class EspRfid(Adapter):
    name: ClassVar[str] = "esp_rfid"

    def subscriptions(self) -> list[str]:
        topics = []
        for topic in self.devices:
            topics += [topic, f"{topic}/send"]
        return topics

    def handle(self, topic: str, payload: bytes) -> None:
        base = topic[: -len("/send")] if topic.endswith("/send") and topic not in self.devices else topic
        identity = self.device(base)
        message = decode_object(payload)
        kind = message.get("type")
        if kind in ("heartbeat", "hearthbeat", "boot"):
            self.pipeline.status(identity, "online")
            return
        if kind is None:
            if "cmd" in message:
                raise Ignored  # a command to the controller echoed on the topic
            raise Reject("missing_field", "type")
        if kind != "access":
            raise Ignored  # INFO/WARN event log lines, door status …
        uid = message.get("uid")
        if uid in (None, ""):
            raise Reject("missing_field", "uid")
        access = message.get("access")
        if not isinstance(access, str):
            raise Reject("missing_field", "access")
        known = as_bool(message.get("isKnown"))
        granted = access.strip().lower() in GRANTED and known is not False
        settings = self.settings[identity.key]
        data: dict[str, Any] = {
            "card": normalize_card(uid),
            "door": str(message.get("door") or settings.door or identity.device),
            "known": bool(known),
        }
        if not granted:
            data["reason"] = access
        ts = parse_vendor_time(message.get("time"), self.pipeline.tz) or self.pipeline.now()
        self.pipeline.event(identity, "access.granted" if granted else "access.denied", data=data, ts=ts)
