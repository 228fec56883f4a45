"""Tasmota: energy monitoring plugs/meters and the Wiegand card reader.

Vendor shapes (Tasmota docs: "MQTT", "Energy Monitoring", "Wiegand";
``xsns_82_wiegand.ino``), with the default FullTopic ``%prefix%/%topic%/``:

- ``tele/<topic>/SENSOR`` every TelePeriod, ``Time`` in the device's local
  time without offset::

      {"Time":"2026-11-26T08:15:02","ENERGY":{"TotalStartTime":"2025-03-01T10:00:00",
       "Total":1532.871,"Yesterday":6.210,"Today":2.114,"Power":412,
       "ApparentPower":430,"ReactivePower":121,"Factor":0.96,"Voltage":229,"Current":1.874}}

  ``ENERGY.Total`` (kWh, cumulative) → a v1 electricity ``reading``.
- ``tele/<topic>/SENSOR`` from a Wiegand reader, on each card::

      {"Time":"2026-11-26T08:15:02","Wiegand":{"UID":7748328,"Size":26}}

  (``"UID":"76E3E8h"`` with SetOption123 1; ``Size`` 4 or 8 is a keypad key,
  not a card.) → ``access.granted`` if the card is on the card list, else
  ``access.denied``, with ``data.card`` and ``data.door``.
- ``tele/<topic>/LWT`` retained ``Online`` / ``Offline`` → v1 ``status``.

``Time`` carries no offset: it is read in the site's time zone.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from device_bridge.adapters.base import Adapter
from device_bridge.cards import CardList, normalize_card
from device_bridge.model import Ignored, Reject, decode_object, parse_vendor_time
from server.contract.v1 import DeviceKind


class Tasmota(Adapter):
    name: ClassVar[str] = "tasmota"

    def __init__(self, *args: Any, cards: CardList | None = None) -> None:
        super().__init__(*args)
        self.prefix = self.source.prefix.strip("/")
        self.cards = cards

    def subscriptions(self) -> list[str]:
        return [f"{self.prefix}/+/SENSOR", f"{self.prefix}/+/LWT"]

    def handle(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) != 3:
            raise Reject("bad_topic", f"expected {self.prefix}/<topic>/SENSOR|LWT")
        identity = self.device(parts[1])
        if parts[2] == "LWT":
            state = payload.decode("utf-8", "replace").strip()
            if state not in ("Online", "Offline"):
                raise Reject("bad_value", f"LWT {state!r}: expected Online or Offline")
            self.pipeline.status(identity, state.lower())
            return
        message = decode_object(payload)
        ts = parse_vendor_time(message.get("Time"), self.pipeline.tz) or self.pipeline.now()
        if identity.kind is DeviceKind.METER:
            energy = message.get("ENERGY")
            if not isinstance(energy, dict) or "Total" not in energy:
                raise Reject("missing_field", "ENERGY.Total")
            total = energy["Total"]
            if isinstance(total, bool) or not isinstance(total, int | float):
                raise Reject("bad_value", f"ENERGY.Total={total!r} is not a number")
            if not math.isfinite(total) or total < 0:
                raise Reject("bad_value", f"ENERGY.Total={total!r} is not a cumulative register")
            self.pipeline.reading(identity, float(total), ts=ts)
            return
        wiegand = message.get("Wiegand")
        if wiegand is None:
            raise Ignored  # periodic telemetry of a reader with no card in it
        if not isinstance(wiegand, dict) or "UID" not in wiegand:
            raise Reject("missing_field", "Wiegand.UID")
        size = wiegand.get("Size")
        if size in (4, 8):
            raise Ignored  # a keypad key press, not a card
        try:
            card = normalize_card(wiegand["UID"])
        except ValueError as exc:
            raise Reject("bad_value", f"Wiegand.UID: {exc}") from None
        if not card or card == "0":
            raise Reject("bad_value", "Wiegand.UID is empty (parity error on the reader)")
        granted = self.cards is not None and card in self.cards
        door = self.settings[identity.key].role or identity.device
        data: dict[str, Any] = {"card": card, "door": door}
        if size is not None:
            data["bits"] = size
        self.pipeline.event(identity, "access.granted" if granted else "access.denied", data=data, ts=ts)
