"""What a district official reads of a resident through the API: numbers masked, as on the
profile page (the centre calls; an official's session must not undo the page's masking)."""

from __future__ import annotations

from typing import Any

import httpx


def test_an_official_reads_a_residents_numbers_masked(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1")
    body = {"name": "담당 박", "role": "official", "district": "유성구"}
    token = running.http.post("/api/v1/users", json=body).json()["token"]
    staff = running.http.get("/api/v1/residents/r1").json()
    full = [c["phone"] for c in staff["contacts"]]
    assert full and all("****" not in phone for phone in full)
    official = httpx.get(
        f"{running.base}/api/v1/residents/r1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert official.status_code == 200, official.text
    shown = [c["phone"] for c in official.json()["contacts"]]
    assert len(shown) == len(full)
    assert all("****" in phone for phone in shown), shown
    assert not any(phone in official.text for phone in full)
