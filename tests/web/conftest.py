"""A real browser for the board tests: Debian's chromium driven by Playwright.

Playwright's own browser download is not used (it cannot run here): ``executable_path``
points at the system chromium, which ``scripts/test.sh`` installs when it is missing.
Screenshots go to ``tests/artifacts/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.hub.conftest import start_hub  # noqa: F401 - re-exported fixture

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail(
            "chromium is missing; ./scripts/test.sh installs it (apt-get install chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": 1440, "height": 900}
    )
    opened = context.new_page()
    yield opened
    context.close()


def open_page(page: Page, running: Any, path: str) -> Any:
    """Open ``path`` of a test hub with the page's clock set to the hub's.

    Chromium keeps the machine's clock; the page gets the hub's (the one its devices stamp),
    so ages on the board ("time since opened") count from the same time as the hub.
    """
    page.clock.set_system_time(running.clock.now())
    return page.goto(f"{running.base}{path}")


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
