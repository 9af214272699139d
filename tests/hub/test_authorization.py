"""Every API endpoint against every role, including the calls that must be refused.

The table below is the access policy. A test fails when the app has an endpoint the table
does not list, so a new endpoint cannot ship without its row.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.hub.support import read_sms, wait_until

ADMIN, OPERATOR, OFFICIAL, OTHER_OFFICIAL = "admin", "operator", "official", "other_official"
STAFF = {ADMIN, OPERATOR}
EVERYONE = {ADMIN, OPERATOR, OFFICIAL}
PUBLIC = "public"  # no token at all (health, metrics, pages, guardian links, reply webhook)

# (method, path) -> who may call it. Officials are scoped: OTHER_OFFICIAL (another district)
# gets 404 where an OFFICIAL of the resident's district gets through.
POLICY: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/v1/residents"): {ADMIN},
    ("GET", "/api/v1/residents"): EVERYONE,
    ("GET", "/api/v1/residents/{resident_id}"): EVERYONE,
    ("POST", "/api/v1/residents/{resident_id}/devices"): {ADMIN},
    ("POST", "/api/v1/residents/{resident_id}/contacts"): {ADMIN},
    ("PATCH", "/api/v1/residents/{resident_id}/policy"): {ADMIN},
    ("GET", "/api/v1/residents/{resident_id}/activity"): EVERYONE,
    ("GET", "/api/v1/alerts"): EVERYONE,
    ("GET", "/api/v1/alerts/{alert_id}"): EVERYONE,
    ("POST", "/api/v1/alerts/{alert_id}/ack"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/actions"): STAFF,
    ("GET", "/api/v1/notifications"): STAFF,
    ("GET", "/api/v1/dead-letters"): STAFF,
    ("POST", "/api/v1/users"): {ADMIN},
    ("GET", "/api/v1/users"): {ADMIN},
    ("POST", "/api/v1/users/{user_id}/revoke"): {ADMIN},
    ("GET", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/stream"): EVERYONE,
    ("GET", "/api/v1/links/{token}"): PUBLIC,
    ("POST", "/api/v1/links/{token}/ack"): PUBLIC,
    ("POST", "/api/v1/links/{token}/resolve"): PUBLIC,
    ("POST", "/api/v1/links/{token}/away"): PUBLIC,
    ("POST", "/api/v1/sms/replies"): PUBLIC,
    ("POST", "/api/v1/roster"): {ADMIN},
    ("GET", "/api/v1/reports/{district}/{month}"): EVERYONE,
    ("GET", "/api/v1/digest"): EVERYONE,
    ("GET", "/api/v1/trends"): EVERYONE,
    ("GET", "/api/v1/coverage"): EVERYONE,
    ("POST", "/api/v1/residents/{resident_id}/devices/{device_id}/credentials"): {ADMIN},
    ("DELETE", "/api/v1/residents/{resident_id}/devices/{device_id}/credentials"): {ADMIN},
    ("PATCH", "/api/v1/residents/{resident_id}"): {ADMIN},
    ("POST", "/api/v1/residents/{resident_id}/deactivate"): {ADMIN},
    ("POST", "/api/v1/residents/{resident_id}/reactivate"): {ADMIN},
    ("GET", "/api/v1/sensors"): EVERYONE,
    ("GET", "/api/v1/batteries"): EVERYONE,
    # A phone's own feed token only (tests/hub/test_device_feed.py): every staff token is refused.
    ("POST", "/api/v1/devices/feed"): set(),
}
EXTRA_POLICY: dict[tuple[str, str], set[str] | str] = {}  # routers added later register here


def _bodies(alert_id: str) -> dict[tuple[str, str], Any]:
    return {
        ("POST", "/api/v1/residents"): {"id": "new1", "name": "박순자", "district": "유성구"},
        ("POST", "/api/v1/residents/{resident_id}/devices"): {"id": "d9", "kind": "phone"},
        ("POST", "/api/v1/residents/{resident_id}/contacts"): {
            "role": "guardian",
            "name": "아들",
            "phone": "+821055556666",
        },
        ("PATCH", "/api/v1/residents/{resident_id}/policy"): {
            "policy": {"control_center_after": "PT30H"}
        },
        ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"outcome": "false_alarm"},
        ("POST", "/api/v1/alerts/{alert_id}/actions"): {"step": "note", "note": "확인"},
        ("POST", "/api/v1/users"): {"name": "신규 요원", "role": "operator"},
        ("POST", "/api/v1/alerts/{alert_id}/ack"): {},
        ("POST", "/api/v1/links/{token}/away"): {"last_day": "2026-11-26", "reason": "family"},
        ("PATCH", "/api/v1/residents/{resident_id}"): {"address": "둔산로 1"},
        ("POST", "/api/v1/residents/{resident_id}/deactivate"): {"reason": "moved"},
    }


@pytest.fixture
def world(start_hub: Any) -> dict[str, Any]:
    running = start_hub()
    policy = {"checkin_after": "PT1S", "guardian_after": "PT2S", "control_center_after": "PT60S"}
    running.resident("r1", policy=policy, official=False)
    wait_until(lambda: any(m["role"] == "guardian" for m in read_sms(running.sms_log)), 6)
    alert_id = running.http.get("/api/v1/alerts").json()[0]["id"]
    tokens = {ADMIN: running.http.headers["Authorization"].split()[1]}
    for role, body in {
        OPERATOR: {"name": "관제요원", "role": "operator"},
        OFFICIAL: {"name": "유성구 담당", "role": "official", "district": "유성구"},
        OTHER_OFFICIAL: {"name": "서구 담당", "role": "official", "district": "서구"},
    }.items():
        tokens[role] = running.http.post("/api/v1/users", json=body).json()["token"]
    link = re.search(r"/g/([A-Za-z0-9_-]+)", read_sms(running.sms_log)[0]["body"])
    return {
        "running": running,
        "alert_id": alert_id,
        "tokens": tokens,
        "link": link.group(1) if link else "none",
    }


def _routes(running: Any) -> set[tuple[str, str]]:
    spec = httpx.get(f"{running.base}/openapi.json").json()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


def test_the_policy_table_covers_every_endpoint(world: dict[str, Any]) -> None:
    assert _routes(world["running"]) == set(POLICY) | set(EXTRA_POLICY)


def _call(world: dict[str, Any], method: str, path: str, who: str | None) -> httpx.Response:
    running = world["running"]
    url = (
        path.replace("{resident_id}", "r1")
        .replace("{device_id}", "d1")
        .replace("{alert_id}", world["alert_id"])
        .replace("{token}", world["link"])
        .replace("{district}", "유성구")
        .replace("{month}", "2026-11")
        .replace("{user_id}", "999999")  # none: an allowed caller hears 404, never 401/403
    )
    headers = {} if who is None else {"Authorization": f"Bearer {world['tokens'][who]}"}
    body = _bodies(world["alert_id"]).get((method, path))
    if path == "/api/v1/stream":
        with httpx.stream("GET", running.base + url, headers=headers, timeout=5) as response:
            return httpx.Response(response.status_code)  # only the status: it never ends
    if path == "/api/v1/sms/replies":
        body = {"from": "+821000000000", "text": "1"}
    return httpx.request(method, running.base + url, headers=headers, json=body, timeout=10)


@pytest.mark.parametrize("who", [None, ADMIN, OPERATOR, OFFICIAL, OTHER_OFFICIAL, "bad"])
def test_every_endpoint_for_every_role(world: dict[str, Any], who: str | None) -> None:
    if who == "bad":
        world["tokens"]["bad"] = "not-a-real-token-000000000000"
    problems = []
    for (method, path), allowed in {**POLICY, **EXTRA_POLICY}.items():
        response = _call(world, method, path, who)
        code = response.status_code
        if allowed == PUBLIC:
            # No bearer needed, and a bearer changes nothing: the link or secret decides.
            expected = {
                "/health": {200},
                "/metrics": {200},
                "/api/v1/links/{token}": {200},
                "/api/v1/links/{token}/ack": {200, 409},
                "/api/v1/links/{token}/resolve": {200, 409},
                "/api/v1/links/{token}/away": {200, 409},
                "/api/v1/sms/replies": {404},  # replies are off without a reply secret
            }[path]
            ok = code in expected
        elif who is None:
            ok = code == 401
        elif who == "bad":
            ok = code == 403
        elif who == OTHER_OFFICIAL and path.startswith("/api/v1/reports/"):
            ok = code == 403  # another district's report is refused outright
        elif who == OTHER_OFFICIAL and OFFICIAL in allowed:
            # Scoped: the list is empty of r1, and r1's own pages are not found.
            ok = code in {200, 404} and (
                code == 404 or "r1" not in response.text or path.endswith("/me")
            )
        elif who in allowed:
            ok = code not in {401, 403}
        else:
            ok = code == 403
        if not ok:
            problems.append(f"{who} {method} {path} -> {code}")
    assert problems == []
