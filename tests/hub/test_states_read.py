"""Residents' states as the API reads them (hub/store/states.py): committed, in bulk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from tests.hub.test_core_virtual_time import START, Harness


def test_the_resident_list_reads_every_state_in_one_query(tmp_path: Path) -> None:
    harness = Harness(f"sqlite:///{tmp_path / 'hub.db'}")
    core = harness.core
    ids = [f"r{n:03d}" for n in range(40)]
    for resident in ids:
        core.register_resident({"id": resident, "name": "김영희", "district": "유성구"}, START)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    event.listen(harness.engine, "before_cursor_execute", count)
    states = core.states_of(ids)
    event.remove(harness.engine, "before_cursor_execute", count)
    assert sorted(states) == ids
    # One query for forty residents (it was one per resident, and read the worker's cache).
    assert len([s for s in statements if "resident_state" in s]) == 1, statements
    assert core.state_of("nobody") is None
    one = core.state_of("r007")
    assert one is not None and one.resident == "r007"
