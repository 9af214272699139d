"""Due steps in batches: one transaction per batch, the same outcome as one at a time, and a
batch that fails midway keeps nothing and is finished exactly once by the next run.

No broker: the core as the ingest worker drives it, on its real database. Faults are
injected at the store boundary (a statement the database is asked to run raises), not by
standing in for any part of the hub.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.tables import alerts, outbox, resident_state
from hub.timers import TICK_RETRY
from tests.hub.support import KST

# A Tuesday morning; two days later every resident is long overdue: one due step each that
# sends the check-in, opens the inactivity alert and pages guardian and control centre.
START = datetime(2026, 9, 22, 10, 0, tzinfo=KST)
LATE = START + timedelta(days=2)
RESIDENTS = 24
_LINK = re.compile(r"/g/\S+")


def _core(url: str) -> HubCore:
    engine = open_engine(url)
    migrate(engine)
    return HubCore(engine, Escalation(WorkingCalendar()), Settings(control_center_phones=["+821"]))


def _register(core: HubCore, count: int = RESIDENTS) -> list[str]:
    ids = [f"r{i:02d}" for i in range(count)]
    for resident in ids:
        core.register_resident({"id": resident, "name": "김영희", "district": "유성구"}, START)
        core.register_device(resident, "spk", "speaker", START)
        core.add_contact(resident, "guardian", "보호자", "+821011112222", START)
    return ids


def _outbox(engine: Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.key,
                outbox.c.channel,
                outbox.c.recipient,
                outbox.c.resident_id,
                outbox.c.alert_id,
                outbox.c.kind,
                outbox.c.role,
                outbox.c.body,
                outbox.c.created_at,
            )
        ).all()
    # A guardian's link is signed with the database's own key: compare the text around it.
    return {(*row[:-2], _LINK.sub("/g/<link>", row.body), row.created_at) for row in rows}


def _states(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                resident_state.c.resident_id, resident_state.c.state, resident_state.c.next_due_at
            )
        ).all()
    return {row.resident_id: (row.state, row.next_due_at) for row in rows}


def _commits(engine: Engine) -> list[int]:
    counted = [0]

    def on_commit(_conn: Any) -> None:
        counted[0] += 1

    event.listen(engine, "commit", on_commit)
    return counted


@pytest.fixture
def cores(tmp_path: Path) -> Iterator[tuple[HubCore, HubCore]]:
    made = (_core(f"sqlite:///{tmp_path / 'one.db'}"), _core(f"sqlite:///{tmp_path / 'batch.db'}"))
    yield made
    for core in made:
        core.engine.dispose()


def test_a_batch_is_decided_in_one_transaction_as_one_at_a_time_would(
    cores: tuple[HubCore, HubCore],
) -> None:
    one, batch = cores
    ids = _register(one)
    _register(batch)

    for resident in ids:  # one resident per transaction, as the timers did
        assert one.run_due(LATE, limit=1, only=resident) == 1
    commits = _commits(batch.engine)
    assert batch.run_due(LATE, limit=500) == RESIDENTS
    # The batch, and the digests' own look (nothing queued): two transactions, not 24.
    assert commits[0] == 2
    assert batch.run_due(LATE, limit=500) == 0

    rows = _outbox(batch.engine)
    assert rows == _outbox(one.engine)
    # Each resident: its alert's two changes on MQTT, two guardian SMS and the control
    # centre's (what the step does, so the comparison compares something).
    assert len(rows) >= 4 * RESIDENTS
    assert _states(batch.engine) == _states(one.engine)


def _fail_on(
    engine: Engine, when: Callable[[str, Any], bool], error: Exception
) -> Callable[[], None]:
    """Every statement ``when`` picks raises ``error`` before it reaches the database;
    returns what ends that."""

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if when(statement, parameters):
            raise error

    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _paged(engine: Engine) -> dict[str, int]:
    """Guardian SMS rows per resident (the step pages each resident's guardian twice)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.resident_id, func.count())
            .where(outbox.c.channel == "sms", outbox.c.role == "guardian")
            .group_by(outbox.c.resident_id)
        ).all()
    return {row[0]: row[1] for row in rows}


def test_a_batch_cut_off_at_its_last_write_keeps_nothing_and_the_next_run_finishes_it_once(
    db_url: str,
) -> None:
    core = _core(db_url)
    try:
        ids = _register(core)
        before = _states(core.engine)
        outbox_before = _count(core.engine, outbox)
        # The database goes away at the batch's last write (the states, after every alert,
        # timeline and outbox row of the batch went in): the whole batch must be gone.
        heal = _fail_on(
            core.engine,
            lambda statement, _p: statement.lstrip().upper().startswith("UPDATE RESIDENT_STATE"),
            OperationalError(
                "UPDATE resident_state", {}, Exception("server closed the connection")
            ),
        )
        with pytest.raises(OperationalError):
            core.run_due(LATE, limit=500)
        heal()
        assert _count(core.engine, outbox) == outbox_before
        assert _count(core.engine, alerts) == 0
        assert _states(core.engine) == before

        assert core.run_due(LATE, limit=500) == RESIDENTS
        assert core.run_due(LATE, limit=500) == 0
        assert _paged(core.engine) == dict.fromkeys(ids, 2)
        with core.engine.connect() as conn:
            opened = conn.execute(select(alerts.c.resident_id)).scalars().all()
        assert sorted(opened) == ids
    finally:
        core.engine.dispose()


def test_one_residents_failing_step_fails_the_batch_then_only_that_resident_waits(
    db_url: str,
) -> None:
    core = _core(db_url)
    try:
        ids = _register(core)
        bad = ids[7]

        def names_bad(statement: str, parameters: Any) -> bool:
            # Writing its outbox rows (they name it), however the parameters are bound.
            writes_outbox = statement.lstrip().upper().startswith("INSERT INTO OUTBOX")
            return writes_outbox and repr(bad) in str(parameters)

        heal = _fail_on(core.engine, names_bad, RuntimeError("a bad step"))
        with capture_logs() as logged:  # kept, not rendered (a rendered traceback is slow)
            assert core.run_due(LATE, limit=500) == RESIDENTS - 1
        heal()
        failed = [(entry["event"], entry.get("resident")) for entry in logged]
        assert ("tick.batch_failed", None) in failed
        assert ("tick.failed", bad) in failed
        done = _paged(core.engine)
        assert done == {resident: 2 for resident in ids if resident != bad}
        # Postponed, not retried in a loop; nothing of it kept.
        assert core.due_of([bad])[bad] == LATE + TICK_RETRY
        assert core.run_due(LATE, limit=500) == 0

        assert core.run_due(LATE + TICK_RETRY, limit=500) == 1
        assert _paged(core.engine) == dict.fromkeys(ids, 2)
    finally:
        core.engine.dispose()
