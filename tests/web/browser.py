"""Playwright for Python driving Debian's chromium (never a downloaded browser).

``launch_chromium`` skips the test when chromium (or playwright) is missing, and fails instead
with ``WARDLINE_REQUIRE_SERVICES=1``. Screenshots go to ``docs/screenshots/`` (overwritten
deterministically, same viewport and data each run) only when ``WARDLINE_SCREENSHOTS=1``, else
to the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(what: str) -> None:
    if os.environ.get("WARDLINE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (WARDLINE_REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} is not installed")


@asynccontextmanager
async def launch_chromium(args: Sequence[str] = CHROMIUM_ARGS) -> AsyncIterator[Any]:
    """A headless Chromium browser (Playwright's ``Browser``), launched with ``args``."""
    executable = shutil.which("chromium")
    if executable is None:
        _missing("Debian's chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("playwright")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=list(args))
        try:
            yield browser
        finally:
            await browser.close()


async def save_screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    folder = SCREENSHOTS if os.environ.get("WARDLINE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False, animations="disabled")
    return path
