"""The access-card list readers are checked against at the edge.

Two sources, either or both:

- a local file (``card_list_file``): one card per line (``#`` comments) or a
  JSON list / ``{"cards": [...]}``; re-read when its modification time changes;
- the card list the server publishes, retained, on ``card_list_topic``
  (default ``fieldops/cards/v1/<site>``), payload ``{"cards": ["7748328", …]}``.
  This topic is outside ``fieldops/v1/#`` on purpose: the server's device
  consumer must not read its own list as a device message.

Cards are compared normalised: Wiegand numbers in decimal without leading
zeros (Tasmota's hexadecimal ``"76E3E8h"`` form is converted), other UIDs
lower-cased.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger("device_bridge.cards")


def normalize_card(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("a card is not a boolean")
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.isdigit():
        return str(int(text))
    if text[-1:] in ("h", "H"):
        try:
            return str(int(text[:-1], 16))
        except ValueError:
            pass
    return text.lower()


def _parse(payload: bytes) -> set[str]:
    text = payload.strip()
    if text[:1] in (b"[", b"{"):
        value = msgspec.json.decode(text)
        if isinstance(value, dict):
            value = value.get("cards", [])
        if not isinstance(value, list):
            raise ValueError("expected a list of cards")
        return {normalize_card(v) for v in value}
    cards = set()
    for line in text.decode("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            cards.add(normalize_card(line))
    return cards


class CardList:
    """Thread-safe: the upstream thread updates it, the pipeline reads it."""

    def __init__(self, file: str | Path | None = None) -> None:
        self.file = Path(file) if file else None
        self._file_cards: set[str] = set()
        self._server_cards: set[str] = set()
        self._lock = threading.Lock()
        self._mtime = 0.0
        self._checked = 0.0
        self.loaded = False
        if self.file is not None:
            self._reload_file()

    def _reload_file(self) -> None:
        assert self.file is not None
        try:
            mtime = self.file.stat().st_mtime
        except OSError as exc:
            log.error("card list %s unreadable: %s", self.file, exc)
            return
        if mtime == self._mtime:
            return
        try:
            cards = _parse(self.file.read_bytes())
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            log.error("card list %s unreadable: %s (keeping the previous list)", self.file, exc)
            return
        with self._lock:
            self._file_cards = cards
            self._mtime = mtime
            self.loaded = True
        log.info("card list %s: %d card(s)", self.file, len(cards))

    def update_from_server(self, payload: bytes) -> None:
        try:
            cards = _parse(payload)
        except (ValueError, UnicodeDecodeError, msgspec.DecodeError) as exc:
            log.error("card list from the server unreadable: %s (keeping the previous list)", exc)
            return
        with self._lock:
            self._server_cards = cards
            self.loaded = True
        log.info("card list from the server: %d card(s)", len(cards))

    def __contains__(self, card: str) -> bool:
        if self.file is not None and time.monotonic() - self._checked > 2.0:
            self._checked = time.monotonic()
            self._reload_file()
        with self._lock:
            return card in self._file_cards or card in self._server_cards
