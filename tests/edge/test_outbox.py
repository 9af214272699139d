"""The device outbox: durable, ordered, folded, bounded without losing what matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.outbox import Outbox, new_event_id

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _emergency(outbox: Outbox, at: datetime, *, ref: str | None = None) -> tuple[str, bool]:
    event_id = new_event_id("emergency")
    payload = json.dumps({"v": 1, "id": event_id, "ts": at.isoformat(), "trigger": "voice"})
    return event_id, outbox.add("emergency", event_id, at, payload.encode(), urgent=True, ref=ref)


def _checkin(outbox: Outbox, at: datetime) -> str:
    event_id = new_event_id("checkin")
    outbox.add("checkin", event_id, at, b"{}")
    return event_id


def _ts(payload: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(payload["ts"]))


def _payloads(outbox: Outbox) -> list[dict[str, object]]:
    return [json.loads(p.payload) for p in outbox.take(100_000)]


def test_events_survive_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    outbox = Outbox(path, fold_s=60)
    for minute in range(5):
        outbox.record_activity(
            "voice", T0 + timedelta(minutes=minute), T0 + timedelta(minutes=minute)
        )
    outbox.close()

    reopened = Outbox(path, fold_s=60)
    sent = _payloads(reopened)
    assert [_ts(p) for p in sent] == [T0 + timedelta(minutes=m) for m in range(5)]
    assert reopened.depth() == 5


def test_emergency_lane_goes_first_then_original_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", fold_s=60)
    for minute in range(3):
        at = T0 + timedelta(minutes=minute * 2)
        outbox.record_activity("motion", at, at)
    checkin = _checkin(outbox, T0 + timedelta(minutes=7))
    emergency, _ = _emergency(outbox, T0 + timedelta(minutes=8))
    order = [p.event_id for p in outbox.take(10)]
    assert order[0] == emergency
    assert order[-1] == checkin
    assert len(order) == 5


def test_folding_one_message_per_source_per_window(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", fold_s=60)
    for second in range(0, 50, 5):  # ten signals in 50 s
        at = T0 + timedelta(seconds=second)
        outbox.record_activity("voice", at, at)
    outbox.record_activity("door", T0 + timedelta(seconds=20), T0 + timedelta(seconds=20))
    first = _payloads(outbox)
    assert [(p["source"], p.get("count")) for p in first] == [("voice", None), ("door", None)]
    assert outbox.next_fold_due() == T0 + timedelta(seconds=60)

    assert outbox.flush_folds(T0 + timedelta(seconds=59)) == 0
    assert outbox.flush_folds(T0 + timedelta(seconds=60)) == 1
    folded = _payloads(outbox)[-1]
    assert folded["source"] == "voice"
    assert folded["count"] == 9
    assert _ts(folded) == T0 + timedelta(seconds=45)  # the latest signal


def test_pending_fold_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    outbox = Outbox(path, fold_s=60)
    for second in range(3):
        at = T0 + timedelta(seconds=second)
        outbox.record_activity("screen", at, at)
    outbox.close()  # as good as a kill: every call committed before it returned
    reopened = Outbox(path, fold_s=60)
    reopened.flush_folds(T0 + timedelta(minutes=2))
    assert sum(int(p.get("count") or 1) for p in _payloads(reopened)) == 3


def test_a_feed_reference_is_taken_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", fold_s=60)
    assert outbox.record_activity("call", T0, T0, ref="tasker-17")
    assert not outbox.record_activity("call", T0, T0, ref="tasker-17")
    _, first = _emergency(outbox, T0, ref="sos-1")
    _, again = _emergency(outbox, T0, ref="sos-1")
    assert (first, again) == (True, False)
    assert outbox.depth() == 2


def test_acknowledged_events_leave_and_released_ones_come_back(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", fold_s=60)
    for minute in range(4):
        at = T0 + timedelta(minutes=minute * 2)
        outbox.record_activity("power", at, at)
    batch = outbox.take(3)
    assert len(batch) == 3
    assert len(outbox.take(3)) == 1  # the rest are in flight
    outbox.ack([batch[0].event_id])
    outbox.release()
    again = [p.event_id for p in outbox.take(10)]
    assert again[:2] == [p.event_id for p in batch[1:]]
    assert len(again) == 3
    assert outbox.depth() == 3


def test_shedding_folds_old_activity_and_keeps_everything_that_matters(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", max_rows=100, fold_s=1)
    signals = 0
    kept: list[str] = []
    at = T0
    for step in range(2000):  # two sources, a signal every 90 s for about 50 h
        at = T0 + timedelta(seconds=90 * step)
        source = "motion" if step % 3 else "door"
        outbox.record_activity(source, at, at)
        signals += 1
        if step % 400 == 7:
            kept.append(_emergency(outbox, at)[0])
        if step % 500 == 9:
            kept.append(_checkin(outbox, at))
    assert outbox.depth() <= 100
    assert outbox.shed_rows > 1800
    sent = outbox.take(1000)
    ids = {p.event_id for p in sent}
    assert set(kept) <= ids, "an emergency or check-in answer was shed"
    activity = [json.loads(p.payload) for p in sent if p.channel == "activity"]
    assert sum(int(a.get("count") or 1) for a in activity) == signals
    stamps = [_ts(a) for a in activity]
    assert stamps == sorted(stamps), "folding put activity out of order"
    assert [p.channel for p in sent[:5]] == ["emergency"] * 5


def test_in_flight_rows_are_not_folded_away(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", max_rows=20, fold_s=1)
    for step in range(15):
        at = T0 + timedelta(minutes=step)
        outbox.record_activity("motion", at, at)
    in_flight = {p.event_id for p in outbox.take(10)}
    for step in range(15, 40):
        at = T0 + timedelta(minutes=step)
        outbox.record_activity("motion", at, at)
    assert outbox.shed_rows > 0
    outbox.release()
    assert in_flight <= {p.event_id for p in outbox.take(1000)}


def test_an_unreadable_outbox_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not a database" * 100)
    outbox = Outbox(path, fold_s=60)
    assert outbox.depth() == 0
    assert list(tmp_path.glob("o.db.corrupt-*"))


@pytest.mark.parametrize("fold_s", [0.5, 60.0])
def test_counts_add_up_whatever_the_window(tmp_path: Path, fold_s: float) -> None:
    outbox = Outbox(tmp_path / "o.db", fold_s=fold_s)
    at = T0
    for step in range(200):
        at = T0 + timedelta(seconds=step * 0.7)
        outbox.record_activity("screen", at, at)
        outbox.flush_folds(at)
    outbox.flush_folds(at + timedelta(hours=1))
    assert sum(int(p.get("count") or 1) for p in _payloads(outbox)) == 200


def test_a_row_sent_before_a_restart_is_never_resent_with_other_content(tmp_path: Path) -> None:
    """After a restart the outbox no longer knows what was in flight; shedding must not fold
    more signals into a row the hub may already have under that id (the hub would keep the
    new content as a conflicting duplicate, not count it)."""
    path = tmp_path / "o.db"
    outbox = Outbox(path, max_rows=20, fold_s=1)
    for step in range(15):
        at = T0 + timedelta(minutes=step)
        outbox.record_activity("motion", at, at)
    sent = {p.event_id: p.payload for p in outbox.take(15)}  # published; the acks are lost
    outbox.close()
    outbox = Outbox(path, max_rows=20, fold_s=1)  # the agent restarts
    for step in range(45):  # from the next hour on: the sent rows have an hour of their own
        at = T0 + timedelta(hours=1, minutes=step)
        outbox.record_activity("motion", at, at)
    assert outbox.shed_rows > 0
    again = outbox.take(1000)
    changed = [p.event_id for p in again if p.event_id in sent and p.payload != sent[p.event_id]]
    assert changed == []
    total = sum(int(json.loads(p.payload).get("count") or 1) for p in again)
    assert total == 15 + 45, "signals were lost in the folding"
