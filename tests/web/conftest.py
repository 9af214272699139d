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
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
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


def axe_problems(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, of ``impacts``.

    axe-core comes from npm (tests/web/axe/package-lock.json; ``scripts/test.sh`` runs
    ``npm ci`` there): injected into the page, run, and each violation returned as
    "rule (impact): target, ..." so an assertion message says what to fix.
    """
    if not AXE.exists():
        pytest.fail(
            f"{AXE.name} missing; ./scripts/test.sh installs it (npm ci --prefix tests/web/axe)",
            pytrace=False,
        )
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact,
                targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['targets'])}"
        for v in found
        if v["impact"] in impacts
    ]


def sign_in(page: Page, running: Any, token: str, path: str = "/board") -> None:
    """Log in through the login page as a person would, and land on ``path``."""
    open_page(page, running, f"/login?next={path}")
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("signin").click()
    page.wait_for_url(f"**{path}")
