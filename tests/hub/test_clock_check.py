"""The hub's clock check: the devices' consensus, the database's clock, NTP's verdict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.clock_check import WINDOW, ClockCheck, DeviceClocks, ntp_status
from hub.store.clock import database_now
from hub.store.db import Engine, migrate, open_engine, reading

HUB = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def heard(clocks: DeviceClocks, device: str, behind: timedelta) -> None:
    """A heartbeat from ``device``, whose clock is ``behind`` the hub's."""
    clocks.heard("r1", device, HUB - behind, HUB)


def test_no_heartbeat_no_shift() -> None:
    assert DeviceClocks().shift() == timedelta(0)
    assert DeviceClocks().consensus() is None


def test_devices_agreeing_on_the_hub_being_fast_give_the_shift() -> None:
    clocks = DeviceClocks()
    for n, transit in enumerate((0.05, 0.2, 1.5)):
        heard(clocks, f"d{n}", timedelta(hours=13, seconds=transit))

    assert abs(clocks.shift() - timedelta(hours=13)) < timedelta(seconds=2)


def test_one_device_with_a_wrong_clock_is_outvoted() -> None:
    clocks = DeviceClocks()
    heard(clocks, "d0", timedelta(0))
    heard(clocks, "d1", timedelta(seconds=1))
    heard(clocks, "lost", timedelta(days=-3))  # its clock 3 days ahead

    assert clocks.shift() == timedelta(0)


def test_without_a_majority_nothing_is_shifted() -> None:
    clocks = DeviceClocks()
    heard(clocks, "d0", timedelta(0))
    heard(clocks, "d1", timedelta(hours=5))

    assert clocks.consensus() is None
    assert clocks.shift() == timedelta(0)


def test_small_drift_is_not_a_shift_and_lost_clocks_say_nothing() -> None:
    clocks = DeviceClocks()
    heard(clocks, "d0", timedelta(seconds=20))
    assert clocks.shift() == timedelta(0)
    clocks.heard("r1", "epoch", datetime(1970, 1, 1, tzinfo=UTC), HUB)
    assert clocks.consensus() == (timedelta(seconds=20), 1)


def test_devices_not_heard_for_the_window_no_longer_count() -> None:
    monotonic = Monotonic()
    clocks = DeviceClocks(monotonic)
    heard(clocks, "d0", timedelta(hours=13))
    monotonic.now += WINDOW + 1

    assert clocks.consensus() is None


def test_the_report_degrades_beyond_the_bound_on_the_devices_only() -> None:
    clocks = DeviceClocks()
    check = ClockCheck(clocks, None, lambda: HUB, max_skew_s=300)
    assert check.report()["ok"] is True
    assert check.report()["source"] == "none"
    heard(clocks, "d0", timedelta(hours=-1))

    report = check.report()

    assert report["ok"] is False
    assert report["source"] == "devices"
    assert report["skew_s"] == -3600
    assert report["shift_s"] == -3600
    assert report["hub_time"] == HUB.isoformat()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_postgresql_keeps_a_clock_sqlite_does_not(engine: Engine) -> None:
    with reading(engine) as conn:
        theirs = database_now(conn)
    if engine.dialect.name == "sqlite":
        assert theirs is None
        return
    assert theirs is not None
    assert theirs.utcoffset() == timedelta(0)
    check = ClockCheck(DeviceClocks(), engine, lambda: theirs, max_skew_s=300)
    refs = check.check_references()
    assert refs.database == "postgresql"
    assert refs.database_skew_s is not None
    assert abs(refs.database_skew_s) < 600, "the hub's clock here is the database's, frozen"


def test_ntp_status_answers_quietly_whatever_the_machine_offers() -> None:
    synced, source = ntp_status()

    assert synced is None or isinstance(synced, bool)
    assert (source is None) == (synced is None)
