"""Roster import over HTTP: a dry run reports per-row errors; applying creates residents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "roster-sample.csv"


def test_dry_run_then_apply(start_hub: Any) -> None:
    running = start_hub()
    data = SAMPLE.read_bytes()
    bad = data + "bad id!,이름,유성구,010-1,,,,,,,,\n".encode()
    dry = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv"},
        content=bad,
        headers={"Content-Type": "text/csv"},
    )
    assert dry.status_code == 200, dry.text
    report = dry.json()["report"]
    assert dry.json()["applied"] is None
    assert report["errors"], "the bad row must be reported"
    assert all(error["row"] > 1 for error in report["errors"])
    assert running.http.get("/api/v1/residents").json() == [], "a dry run writes nothing"

    applied = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv", "apply": "true"},
        content=data,
        headers={"Content-Type": "text/csv"},
    )
    assert applied.status_code == 200, applied.text
    created = applied.json()["applied"]["created"]
    assert created >= 1
    listed = running.http.get("/api/v1/residents").json()
    assert len(listed) == created
    again = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv", "apply": "true"},
        content=data,
        headers={"Content-Type": "text/csv"},
    )
    assert again.json()["applied"]["created"] == 0
    assert again.json()["applied"]["skipped_existing"] == created
