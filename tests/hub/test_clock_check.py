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
    """Two heartbeats, 300 s apart, from ``device``, whose clock is ``behind`` the hub's: the
    second came live, so it votes."""
    gap = timedelta(seconds=300)
    clocks.heard("r1", device, HUB - gap - behind, HUB - gap)
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
    for device in ("d0", "d1", "d2"):  # at least three devices must agree (MIN_VOTERS)
        heard(clocks, device, timedelta(hours=-1))

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


def test_a_backlog_delivered_after_an_outage_is_no_shift() -> None:
    """Three hours of heartbeats the broker kept for a hub that was away arrive at once: their
    arrival - ts grows with the outage, not with any clock, and they must not vote (they did:
    the shift became the outage, and activity from during it looked recent)."""
    clocks = DeviceClocks()
    back = HUB
    for device in ("d0", "d1", "d2"):
        for beat in range(36):  # every 5 min for 3 h, all delivered at ``back``
            sent = back - timedelta(hours=3) + timedelta(minutes=5 * beat)
            clocks.heard("r1", device, sent, back + timedelta(milliseconds=beat))
    assert clocks.shift() == timedelta(0)


def test_a_batch_retried_through_a_database_outage_is_no_shift() -> None:
    """The same heartbeats heard again at each retry say nothing more."""
    clocks = DeviceClocks()
    for device in ("d0", "d1", "d2"):
        clocks.heard("r1", device, HUB - timedelta(minutes=5), HUB - timedelta(minutes=5))
        for retry in range(1, 20):
            clocks.heard("r1", device, HUB, HUB + timedelta(minutes=retry))
    assert abs(clocks.shift()) < timedelta(minutes=1)


def test_fewer_than_three_devices_never_move_the_hub_s_time() -> None:
    clocks = DeviceClocks()
    for device in ("d0", "d1"):  # two agents on one board whose clock is 40 min slow
        heard(clocks, device, timedelta(minutes=-40))
    assert clocks.shift() == timedelta(0)
    heard(clocks, "d2", timedelta(minutes=-40))
    assert clocks.shift() == timedelta(minutes=-40)
