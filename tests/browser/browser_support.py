"""Shared pieces of the browser tests: Debian Chromium launch, settling, screenshots.

Never ``playwright install``: the tests drive Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright_api = pytest.importorskip("playwright.sync_api")
if TYPE_CHECKING:
    from playwright.sync_api import Page, expect
else:
    Page = playwright_api.Page
    expect = playwright_api.expect


@contextmanager
def chromium_page(last_shot: str, accept_downloads: bool = False) -> Iterator[Page]:
    """A 1400 x 2000 tab in Debian's Chromium; screenshots ``last_shot`` when the test ends.

    The viewport is tall because the main pane scrolls inside the page, so full-page
    captures would miss it.
    """
    if not CHROMIUM.is_file():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 2000}, accept_downloads=accept_downloads
            )
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            yield tab
            shoot(tab, last_shot)  # where a failing test stopped (overwritten on success)
        finally:
            browser.close()


def settle(page: Page, quiet_s: float = 1.5, timeout_s: float = 120) -> None:
    """Wait until the script finished and every element has rendered for ``quiet_s``."""
    busy = '[data-testid="stStatusWidget"], [data-testid="stSkeleton"]'
    deadline, quiet_since = time.time() + timeout_s, None
    while time.time() < deadline:
        if page.locator(busy).count() == 0:
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        time.sleep(0.1)
    raise TimeoutError("the app did not settle")


def shoot(page: Page, name: str) -> None:
    """Save a screenshot to ``test-artifacts/screenshots/NAME.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def select(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label`` and wait for the rerun."""
    box = page.locator('[data-testid="stSelectbox"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)
