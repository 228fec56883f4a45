"""Debian's Chromium driven by Playwright (its own browser download does not work here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("FIELDOPS_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out of this closed network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@contextmanager
def chromium(*, extra_args: list[str] | None = None, **launch: Any) -> Iterator[Any]:
    """A headless browser; yields Playwright's Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=FLAGS + (extra_args or []), **launch)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def persistent_chromium(profile: Path, *, extra_args: list[str] | None = None, **options: Any
                        ) -> Iterator[Any]:
    """A browser profile that keeps IndexedDB and caches across restarts; yields a BrowserContext."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS + (extra_args or []),
            **options)
        try:
            yield context
        finally:
            context.close()
