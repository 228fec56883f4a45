"""Write the app icons (PNG) without an imaging library: a QR-like mark on navy.

Run from pwa/: python3 scripts/make_icons.py. The SVG icon (app/icons/icon.svg) is the same mark.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

NAVY, WHITE, AMBER = (13, 43, 94), (255, 255, 255), (255, 196, 0)
# 7×7 mark: a finder-pattern ring, an amber centre (the "checkpoint").
MARK = ["WWWWWWW", "W.....W", "W.WWW.W", "W.WAW.W", "W.WWW.W", "W.....W", "WWWWWWW"]


def pixel(x: int, y: int, size: int, maskable: bool) -> tuple[int, int, int]:
    inset = 0.25 if maskable else 0.16  # maskable icons keep the mark inside the safe zone
    lo, hi = size * inset, size * (1 - inset)
    if not (lo <= x < hi and lo <= y < hi):
        return NAVY
    cell = (hi - lo) / 7
    ch = MARK[int((y - lo) // cell)][int((x - lo) // cell)]
    return {"W": WHITE, "A": AMBER}.get(ch, NAVY)


def png(size: int, maskable: bool = False) -> bytes:
    rows = b"".join(b"\0" + b"".join(bytes(pixel(x, y, size, maskable)) for x in range(size))
                    for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "app" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (out / f"icon-{size}.png").write_bytes(png(size))
    (out / "icon-maskable-512.png").write_bytes(png(512, maskable=True))
    print("icons written to", out)
