"""The store-and-forward spool: every v1 message is committed here before it is published.

One SQLite file (WAL) holds, in one transaction per batch:

- ``outbox``: encoded v1 messages in their original order (``seq``); a row is
  deleted only after the central broker acknowledged it (PUBACK), so a crash,
  a kill or a broker outage replays it — with the same bytes and so the same
  event id, which the server's ``(device, id)`` dedup makes harmless;
- ``sequences``: the per-device counter behind stable event ids;
- ``adapter_state``: raise/clear conditions and open doors, so a restart
  neither re-raises nor forgets an alarm;
- ``seen``: fingerprints of recent source messages, so one the local broker
  redelivers (DUP) after a kill between commit and acknowledgement is not
  translated twice.

Bounded by size: when ``max_bytes`` would be exceeded the oldest meter
readings are shed first (a later cumulative reading supersedes them), then the
oldest messages of any kind. Shedding is logged at ERROR and counted in
``meta`` — never silent.

Threads: the pipeline owns a ``Spool`` (writer); the upstream publisher owns a
``SpoolReader``. Each has its own connection; WAL lets them work concurrently.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger("device_bridge.spool")

CHANNEL_EVENT: Final = 0
CHANNEL_READING: Final = 1
CHANNEL_STATUS: Final = 2

# A row as written: (channel, retain, topic, payload).
OutRow = tuple[int, int, str, bytes]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_channel ON outbox (channel, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (device TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS adapter_state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seen (fp INTEGER PRIMARY KEY, batch INTEGER NOT NULL);
"""
# Redeliveries can only concern the last few batches that were committed but
# not yet acknowledged to the local broker; keep a wide margin.
SEEN_KEEP_BATCHES: Final = 2000
ROW_OVERHEAD: Final = 32  # bytes counted per row beyond topic and payload


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL survives a killed process (the acceptance test's kill -9);
    # only an OS crash or power loss can drop the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def row_size(topic: str, payload: bytes) -> int:
    return len(topic) + len(payload) + ROW_OVERHEAD


@dataclass
class SpoolUsage:
    """Bytes held in the outbox, shared by the writer and the reader."""

    bytes: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, size: int, rows: int) -> None:
        with self._lock:
            self.bytes += size
            self.rows += rows

    def remove(self, size: int, rows: int) -> None:
        with self._lock:
            self.bytes = max(0, self.bytes - size)
            self.rows = max(0, self.rows - rows)


@dataclass(frozen=True)
class ShedReport:
    rows: int
    bytes: int
    total_rows: int


class Spool:
    """The writer side, owned by the pipeline."""

    def __init__(self, path: str | Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._conn = _connect(self.path)
        self._conn.executescript(_SCHEMA)
        self.epoch = self._meta("epoch") or self._new_epoch()
        self.shed_total = int(self._meta("shed_total") or 0)
        self._batch = int(self._meta("batch") or 0)
        size, rows = self._conn.execute(
            "SELECT COALESCE(SUM(length(topic) + length(payload)), 0), COUNT(*) FROM outbox"
        ).fetchone()
        self.usage = SpoolUsage(int(size) + ROW_OVERHEAD * int(rows), int(rows))
        if self.shed_total:
            log.error("spool %s has shed %d message(s) in the past", self.path, self.shed_total)

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def _new_epoch(self) -> str:
        # Part of every event id: a spool file lost and recreated must not
        # reuse ids the server has already seen (it would drop them as dups).
        alphabet = string.ascii_lowercase + string.digits
        epoch = "".join(secrets.choice(alphabet) for _ in range(6))
        self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
        return self._meta("epoch") or epoch

    def load_sequences(self) -> dict[str, int]:
        return {str(d): int(s) for d, s in self._conn.execute("SELECT device, seq FROM sequences")}

    def load_states(self) -> dict[str, bytes]:
        return {str(k): bytes(v) for k, v in self._conn.execute("SELECT key, value FROM adapter_state")}

    def seen(self, fingerprint: int) -> bool:
        row = self._conn.execute("SELECT 1 FROM seen WHERE fp = ?", (fingerprint,)).fetchone()
        return row is not None

    def commit(
        self,
        rows: Sequence[OutRow],
        sequences: dict[str, int],
        states: dict[str, bytes],
        fingerprints: Iterable[int],
    ) -> ShedReport | None:
        """Write one batch atomically; returns what had to be shed to stay in bounds."""
        incoming = sum(row_size(r[2], r[3]) for r in rows)
        conn = self._conn
        self._batch += 1
        shed: ShedReport | None = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if rows and self.usage.bytes + incoming > self.max_bytes:
                shed = self._shed(self.usage.bytes + incoming - self.max_bytes)
            conn.executemany(
                "INSERT INTO outbox (channel, retain, topic, payload) VALUES (?, ?, ?, ?)", rows
            )
            if sequences:
                conn.executemany(
                    "INSERT INTO sequences (device, seq) VALUES (?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET seq = excluded.seq",
                    sequences.items(),
                )
            if states:
                conn.executemany(
                    "INSERT INTO adapter_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    states.items(),
                )
            batch = self._batch
            conn.executemany(
                "INSERT OR REPLACE INTO seen (fp, batch) VALUES (?, ?)",
                ((fp, batch) for fp in fingerprints),
            )
            if batch % 256 == 0:
                conn.execute("DELETE FROM seen WHERE batch < ?", (batch - SEEN_KEEP_BATCHES,))
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('batch', ?)", (str(batch),)
                )
            if shed is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('shed_total', ?)",
                    (str(self.shed_total),),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.usage.add(incoming, len(rows))
        return shed

    def _shed(self, need: int) -> ShedReport:
        """Delete the oldest readings, then the oldest of anything, until ``need`` bytes are free."""
        freed = 0
        count = 0
        for query in (
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE channel = 1 "
            "ORDER BY seq LIMIT ?) RETURNING length(topic) + length(payload)",
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
            "ORDER BY seq LIMIT ?) RETURNING length(topic) + length(payload)",
        ):
            while freed < need:
                # Shed in chunks sized to what is missing (rows are ~300 bytes).
                chunk = max(16, min(5000, (need - freed) // 200 + 1))
                sizes = [int(r[0]) + ROW_OVERHEAD for r in self._conn.execute(query, (chunk,))]
                if not sizes:
                    break
                freed += sum(sizes)
                count += len(sizes)
            if freed >= need:
                break
        self.usage.remove(freed, count)
        self.shed_total += count
        return ShedReport(rows=count, bytes=freed, total_rows=self.shed_total)

    def pending(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        self._conn.close()


class SpoolReader:
    """The publisher side: reads rows in order and deletes acknowledged ones."""

    def __init__(self, path: str | Path, usage: SpoolUsage) -> None:
        self._conn = _connect(Path(path))
        self.usage = usage

    def first_seq(self) -> int:
        row = self._conn.execute("SELECT MIN(seq) FROM outbox").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def fetch(self, after: int, limit: int) -> list[tuple[int, int, str, bytes]]:
        """Rows with seq > after, oldest first: (seq, retain, topic, payload)."""
        return [
            (int(s), int(r), str(t), bytes(p))
            for s, r, t, p in self._conn.execute(
                "SELECT seq, retain, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            )
        ]

    def delete_through(self, seq: int) -> int:
        """Delete every row up to ``seq`` (all acknowledged); returns the rows deleted."""
        sizes = [
            int(r[0]) + ROW_OVERHEAD
            for r in self._conn.execute(
                "DELETE FROM outbox WHERE seq <= ? RETURNING length(topic) + length(payload)",
                (seq,),
            )
        ]
        self.usage.remove(sum(sizes), len(sizes))
        return len(sizes)

    def close(self) -> None:
        self._conn.close()
