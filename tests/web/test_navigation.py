"""Every staff view is reachable from the navigation, by keyboard alone, and passes axe.

An admin signs in and walks the navigation with Tab and Enter only: each entry of
``hub.api.pages.NAVIGATION`` is reached after the skip link in the order the menu lists it,
opens its view, marks itself as the current page, and the view has no serious or critical
WCAG A/AA violation. An official's menu holds only what an official may open.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from hub.api.pages import NAVIGATION
from tests.hub.support import ADMIN_TOKEN
from tests.web.conftest import axe_problems, shot, sign_in


def _focused_link(page: Page) -> str | None:
    return page.evaluate(
        "() => document.activeElement && document.activeElement.getAttribute('href')"
    )


def test_an_admin_walks_every_view_by_keyboard(start_hub: Any, page: Page) -> None:
    running = start_hub()
    running.resident("r1", official=False)
    sign_in(page, running, ADMIN_TOKEN)
    for position, item in enumerate(NAVIGATION):
        page.keyboard.press("Tab")  # the skip link comes first on every page
        for _ in range(position + 1):
            page.keyboard.press("Tab")
        assert _focused_link(page) == item.path, (position, item.path)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{item.path}")
        page.wait_for_load_state("load")  # not networkidle: the board keeps its stream open
        current = page.locator('nav[aria-label="주 메뉴"] a[aria-current="page"]')
        assert current.get_attribute("href") == item.path
        problems = axe_problems(page)
        assert problems == [], (item.path, problems)
        shot(page, f"nav{item.path.replace('/', '-')}")


def test_an_officials_menu_holds_only_their_views(start_hub: Any, page: Page) -> None:
    running = start_hub()
    body = {"name": "담당 박", "role": "official", "district": "유성구"}
    token = running.http.post("/api/v1/users", json=body).json()["token"]
    sign_in(page, running, token)
    links = page.locator('nav[aria-label="주 메뉴"] a')
    shown = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert shown == [item.path for item in NAVIGATION if "official" in item.roles]
    assert "/users" not in shown
    assert "/roster" not in shown
