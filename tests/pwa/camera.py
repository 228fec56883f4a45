"""A fake camera: a hand-written 4:2:0 .y4m showing one QR code (measured.md: no ffmpeg needed)."""

from __future__ import annotations

from pathlib import Path

from server.patrols.sheets import qr_matrix

W, H = 640, 480
DARK, LIGHT = 16, 235  # video-range luma


def write_y4m(path: Path, content: str, frames: int = 6) -> Path:
    """Frames of the QR that the tag-sheet code prints for ``content``, centred, black on white."""
    matrix = qr_matrix(content)
    modules = len(matrix) + 8  # with a 4-module quiet zone each side
    px = (min(W, H) - 40) // modules
    left, top = (W - px * modules) // 2, (H - px * modules) // 2
    luma = bytearray([LIGHT]) * (W * H)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if not dark:
                continue
            x0, y0 = left + (c + 4) * px, top + (r + 4) * px
            for y in range(y0, y0 + px):
                luma[y * W + x0 : y * W + x0 + px] = bytes([DARK]) * px
    chroma = bytes([128]) * (W * H // 4)
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n")
            f.write(luma)
            f.write(chroma)
            f.write(chroma)
    return path


def camera_flags(y4m: Path) -> list[str]:
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m.resolve()}",
    ]
