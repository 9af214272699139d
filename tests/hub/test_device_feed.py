"""A phone without an agent posts its feed (edge/FEED.md) to the hub with its own token.

One real hub per backend (HTTP on a free port, a FakeClock so times are exact): the phone
events of FEED.md become stored protocol events; the same id twice counts once; bad input is
answered with its reason and kept as a dead letter; a wrong, missing or revoked token is
refused; when the pings stop the phone is offline (a device problem), then monitoring_lost.
The shipped MacroDroid macros' request bodies are posted as the app would post them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy import select
from starlette.requests import Request
from typer.testing import CliRunner

from alerts.clock import FakeClock
from hub.api.device_feed import FEED_PATH, bounded_body
from hub.cli import app
from hub.phone_feed import protocol_id
from hub.store.db import writing
from hub.store.feed_tokens import issue_token, revoke_tokens
from hub.store.tables import dead_letters, devices, events
from tests.hub.support import DEFAULT_TEST_START

PHONE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "phone"


def _post(base: str, token: str | None, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(base + FEED_PATH, content=content, headers=headers, timeout=10)


def _stored(running: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.event_id, events.c.kind, events.c.payload)
            .where(events.c.resident_id == "r1")
            .where(events.c.device_id == "ph1")
        ).all()
    return {row.event_id: (row.kind, json.loads(row.payload)) for row in rows}


def _dead(running: Any) -> list[tuple[str, str, str]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(dead_letters.c.topic, dead_letters.c.reason, dead_letters.c.detail).order_by(
                dead_letters.c.id
            )
        ).all()
    return [(row.topic, row.reason, row.detail) for row in rows]


def macro_requests() -> list[dict[str, Any]]:
    """Every HTTP request action of the shipped macros: URL, method, headers, body."""
    found = []
    for path in sorted(PHONE_DIR.glob("*.macro")):
        macro = json.loads(path.read_text(encoding="utf-8"))["macro"]
        assert macro["m_triggerList"], path.name
        for action in macro["m_actionList"]:
            if action["m_classType"] != "HttpRequestAction":
                continue
            config = action["requestConfig"]
            headers = {p["paramName"]: p["paramValue"] for p in config["headerParams"]}
            found.append(
                {
                    "file": path.name,
                    "url": config["urlToOpen"],
                    "post": config["requestType"] == 1,
                    "headers": headers,
                    "content_type": config["contentType"],
                    "body": config["contentBodyText"],
                }
            )
    return found


def test_a_senders_id_is_the_protocol_id_or_its_digest() -> None:
    assert protocol_id("md-1733131200123") == "f-md-1733131200123"
    long = "x" * 128  # FEED.md allows 128 characters; the protocol 64
    assert protocol_id(long) == protocol_id(long) != protocol_id(long[:-1] + "y")
    assert protocol_id(long).startswith("f~")
    assert protocol_id("md-1", emergency=True) == "fe-md-1" != protocol_id("md-1")
    assert len(protocol_id(long)) <= 64
    assert protocol_id("a\u0007b").startswith("f~")  # no control character reaches an id
    assert protocol_id(None) != protocol_id(None)  # without an id, every post is new


def test_the_shipped_macros_post_feed_events_to_the_documented_path() -> None:
    requests = macro_requests()
    assert {r["file"] for r in requests} == {"anbu-alive.macro", "anbu-unlock.macro"}
    types = set()
    for request in requests:
        assert request["post"], request["file"]
        assert request["url"].startswith("https://"), request["file"]
        assert request["url"].endswith(FEED_PATH), request["file"]
        assert request["headers"]["Authorization"].startswith("Bearer "), request["file"]
        assert request["content_type"] == "application/json"
        event = json.loads(request["body"])
        types.add(event["type"])
    assert types == {"alive", "screen_unlock"}


@pytest.mark.timeout(90)
def test_a_phone_posts_its_feed_to_the_hub(
    start_hub: Any, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(DEFAULT_TEST_START)
    running = start_hub(clock=clock)
    running.resident("r1", devices={"ph1": "phone", "spk1": "speaker"})
    base = running.base

    # -- the token, from the CLI: only for a registered phone ---------------------------------
    for key in list(os.environ):
        if key.startswith("ANBU_") and key != "ANBU_TEST_NOW":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANBU_DB_URL", running.hub.settings.db_url)
    cli = CliRunner()
    issued = cli.invoke(app, ["devices", "feed-token", "issue", "r1", "ph1"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.splitlines()[1]
    assert token.startswith("anbu-feed-")
    speaker = cli.invoke(app, ["devices", "feed-token", "issue", "r1", "spk1"])
    assert speaker.exit_code == 2
    assert "feed tokens are for phones" in speaker.output
    nobody = cli.invoke(app, ["devices", "feed-token", "issue", "r1", "ph9"])
    assert nobody.exit_code == 2
    assert "not registered" in nobody.output

    # -- tokens: none, wrong, and a staff member's are refused ---------------------------------
    assert _post(base, None, {"type": "alive"}).status_code == 401
    assert _post(base, "anbu-feed-nope", {"type": "alive"}).status_code == 403
    assert _post(base, "test-admin-token-0123456789", {"type": "alive"}).status_code == 403

    # -- every phone event of FEED.md ---------------------------------------------------------
    at = clock.now().isoformat()
    batch = [
        {"type": "screen_unlock", "id": "u-1", "ts": at},
        {"type": "call_outgoing", "id": "c-1"},
        {"type": "call_answered", "id": "c-2"},
        {"type": "charging_connected", "id": "p-1"},
        {"type": "app_opened", "id": "a-1"},
        {"type": "screen_on", "id": "s-1"},
        {"type": "notification", "id": "n-1"},
        {"type": "screen_on", "id": "s-2"},  # lit by the notification just now
        {"type": "alive", "battery_pct": 77, "interval_s": 60},
    ]
    answer = _post(base, token, batch)
    assert answer.status_code == 200, answer.text
    outcomes = [r["outcome"] for r in answer.json()["results"]]
    assert outcomes == ["accepted"] * 6 + ["ignored", "ignored", "accepted"]
    stored = _stored(running)
    sources = {i: p["source"] for i, (k, p) in stored.items() if k == "activity"}
    assert sources == {
        "f-u-1": "screen",
        "f-c-1": "call",
        "f-c-2": "call",
        "f-p-1": "other",
        "f-a-1": "app",
        "f-s-1": "screen",
    }
    beats = [p for k, p in stored.values() if k == "heartbeat"]
    assert {b["interval_s"] for b in beats} == {900, 60}
    assert any(b.get("battery_pct") == 77 for b in beats)

    # -- the same id twice counts once (a retry, even with another time) ----------------------
    later = (clock.now() + timedelta(seconds=30)).isoformat()
    again = _post(base, token, {"type": "screen_unlock", "id": "u-1", "ts": later})
    assert again.json()["results"] == [{"outcome": "duplicate"}]
    assert sum(1 for i in _stored(running) if i == "f-u-1") == 1

    # -- the shipped macros' bodies, as MacroDroid sends them ----------------------------------
    for request in macro_requests():
        sent = _post(base, token, None, raw=request["body"].encode())
        assert sent.status_code == 200, (request["file"], sent.text)

    # -- bad input: a reason for the sender, a dead letter for staff ---------------------------
    unknown = _post(base, token, {"type": "toaster"})
    assert unknown.status_code == 400
    assert "unknown event type 'toaster'" in unknown.json()["detail"]
    not_json = _post(base, token, None, raw=b"{nope")
    assert not_json.status_code == 400
    assert not_json.json()["detail"] == "body is not JSON"
    future = (clock.now() + timedelta(hours=1)).isoformat()
    ahead = _post(
        base, token, [{"type": "app_opened", "id": "a-2"}, {"type": "app_opened", "ts": future}]
    )
    assert ahead.status_code == 400
    assert ahead.json()["taken"] == 1  # what came before the bad event is stored
    assert "f-a-2" in _stored(running)
    before_1970 = _post(base, token, {"type": "screen_unlock", "ts": "1960-01-01T09:00:00+09:00"})
    assert before_1970.status_code == 400
    assert before_1970.json()["detail"].startswith("event 0: ts_too_old")
    ancient = _post(
        base, token, {"type": "app_opened", "id": "a-3", "ts": "2019-01-01T09:00:00+09:00"}
    )
    assert ancient.status_code == 400
    assert ancient.json()["detail"].startswith("ts_too_old")
    dead = _dead(running)
    assert [(t, r) for t, r, _ in dead] == [
        ("anbu/v1/r1/ph1/feed", "invalid_payload"),
        ("anbu/v1/r1/ph1/feed", "invalid_payload"),
        ("anbu/v1/r1/ph1/feed", "invalid_payload"),
        ("anbu/v1/r1/ph1/feed", "invalid_payload"),
        ("anbu/v1/r1/ph1/activity", "ts_too_old"),
    ]
    assert "unknown event type" in dead[0][2]
    assert "event 1" in dead[2][2]

    # -- the pings stop: the phone is offline (a device problem), not a quiet resident ---------
    assert _post(base, token, {"type": "alive", "interval_s": 60}).status_code == 200
    running.run_until(clock.now() + timedelta(seconds=60 * 3 + 5))
    with running.hub.engine.connect() as conn:
        online = conn.execute(
            select(devices.c.online).where(devices.c.resident_id == "r1", devices.c.id == "ph1")
        ).scalar_one()
    assert online is False
    back = _post(base, token, {"type": "alive", "interval_s": 60})
    assert back.status_code == 200
    running.settle()
    with running.hub.engine.connect() as conn:
        online = conn.execute(
            select(devices.c.online).where(devices.c.resident_id == "r1", devices.c.id == "ph1")
        ).scalar_one()
    assert online is True

    # -- an SOS from the phone is an emergency alert ------------------------------------------
    # Its clock an hour ahead: a call for help is never refused for its time.
    wrong_clock = (clock.now() + timedelta(hours=1)).isoformat()
    sos = _post(base, token, {"type": "sos", "id": "sos-1", "ts": wrong_clock})
    assert sos.json()["results"] == [{"outcome": "accepted", "detail": "emergency"}]
    assert "sos taken at arrival" in _dead(running)[-1][2]
    running.settle()
    alerts = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert [a["kind"] for a in alerts if a["state"] != "resolved"] == ["emergency"]
    kind, payload = _stored(running)["fe-sos-1"]
    assert (kind, payload["trigger"]) == ("emergency", "app")
    assert payload["ts"] != wrong_clock

    # A bad event before it does not lose the call, and an id another kind used does not
    # swallow it (a macro whose magic text did not expand sends one literal id for everything).
    assert _post(base, token, {"type": "screen_unlock", "id": "same"}).status_code == 200
    mixed = _post(base, token, [{"type": "toaster", "id": "x"}, {"type": "sos", "id": "same"}])
    assert mixed.status_code == 400
    assert mixed.json()["detail"].startswith("event 0: unknown event type 'toaster'")
    assert [r["outcome"] for r in mixed.json()["results"]] == ["refused", "accepted"]
    assert mixed.json()["taken"] == 1
    assert _stored(running)["fe-same"][0] == "emergency"

    # A body without a declared length (chunked) over the limit is refused too.
    def chunked() -> Iterator[bytes]:
        for _ in range(16):
            yield b" " * 65536

    flood = httpx.post(
        base + FEED_PATH,
        content=chunked(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert flood.status_code == 413

    # -- revoked, and a new token replaces the old ---------------------------------------------
    revoked = cli.invoke(app, ["devices", "feed-token", "revoke", "r1", "ph1"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked the feed token of r1/ph1" in revoked.output
    assert _post(base, token, {"type": "alive"}).status_code == 403
    with writing(running.hub.engine) as conn:
        assert revoke_tokens(conn, "r1", "ph1", clock.now()) == 0  # nothing left to revoke
    with writing(running.hub.engine) as conn:
        second = issue_token(conn, "r1", "ph1", clock.now())
        third = issue_token(conn, "r1", "ph1", clock.now())
    assert _post(base, second, {"type": "alive"}).status_code == 403
    assert _post(base, third, {"type": "alive"}).status_code == 200

    # -- no token in what the hub printed -------------------------------------------------------
    printed = capfd.readouterr()
    for secret in (token, second, third):
        assert secret not in printed.out + printed.err


def test_a_body_without_a_length_is_read_no_further_than_the_limit() -> None:
    """A sender that never stops (chunked, no Content-Length) is cut off at 64 KiB: reading
    it whole first would let one phone fill the memory of the hub that watches everyone."""
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * 4096, "more_body": pulled < 100_000}

    scope = {"type": "http", "method": "POST", "path": FEED_PATH, "headers": []}
    with pytest.raises(HTTPException) as refused:
        asyncio.run(bounded_body(Request(scope, receive)))
    assert refused.value.status_code == 413
    assert pulled == 17  # 16 chunks of 4 KiB are the limit; the 17th is one byte too many
