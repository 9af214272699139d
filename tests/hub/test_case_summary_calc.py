"""The case summary's pure figures (hub/case_summary.py): response times, device uptime,
weekly activity against the resident's own median, and the chart's bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.api.case_summary_page import duration_text
from hub.case_summary import (
    Signal,
    chart_bars,
    median_span,
    response_of,
    uptime,
    weekly_activity,
)

T0 = datetime(2026, 9, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_the_centres_acknowledgement_counts_not_a_guardians() -> None:
    acks = [(T0 + timedelta(minutes=5), "guardian"), (T0 + timedelta(minutes=9), "control_center")]
    got = response_of(T0, T0 + 2 * H, acks)
    assert got.to_ack == timedelta(minutes=9)
    assert got.to_resolve == 2 * H


def test_a_supervisors_acknowledgement_is_the_centres_and_the_first_one_counts() -> None:
    acks = [
        (T0 + timedelta(seconds=50), "supervisor"),
        (T0 + timedelta(seconds=20), "control_center"),
    ]
    assert response_of(T0, None, acks).to_ack == timedelta(seconds=20)


def test_nothing_measured_is_none() -> None:
    got = response_of(T0, None, [(T0 + H, "guardian")])
    assert (got.to_ack, got.to_resolve) == (None, None)


def _beats(start: datetime, end: datetime, every: timedelta) -> list[Signal]:
    found, at = [], start
    while at < end:
        found.append(Signal(at=at, interval_s=int(every.total_seconds())))
        at += every
    return found


def test_steady_heartbeats_are_online_the_whole_time() -> None:
    end = T0 + 24 * H
    online, measured = uptime(_beats(T0, end, timedelta(minutes=5)), T0, end, 3)
    assert measured == 24 * H
    assert online == 24 * H


def test_a_silence_counts_offline_after_the_missed_heartbeats() -> None:
    # Heartbeats every hour for 10 h, then nothing for 10 h, then again: with 3 missed the
    # device is online until 3 h after the last one (10 h - 1 h + 3 h = 12 h), offline 8 h.
    signals = _beats(T0, T0 + 10 * H, H) + _beats(T0 + 20 * H, T0 + 24 * H, H)
    online, measured = uptime(signals, T0, T0 + 24 * H, 3)
    assert measured == 24 * H
    assert online == 12 * H + 4 * H


def test_a_last_will_ends_the_online_time_at_once() -> None:
    signals = [Signal(at=T0, interval_s=3600), Signal(at=T0 + H, offline=True)]
    online, _ = uptime(signals, T0, T0 + 24 * H, 3)
    assert online == H


def test_an_activity_message_after_a_gap_brings_the_device_back_with_its_last_interval() -> None:
    signals = [Signal(at=T0, interval_s=3600), Signal(at=T0 + 10 * H)]
    online, _ = uptime(signals, T0, T0 + 24 * H, 2)
    assert online == 2 * H + 2 * H


def test_a_heartbeat_before_the_window_carries_into_it_and_time_before_any_is_offline() -> None:
    start = T0 + 24 * H
    lead = [Signal(at=start - H, interval_s=3600)]
    online, measured = uptime(lead, start, start + 10 * H, 3)
    assert (online, measured) == (2 * H, 10 * H)
    online, _ = uptime([Signal(at=start + 5 * H, interval_s=3600)], start, start + 10 * H, 3)
    assert online == 3 * H


def test_a_message_without_a_known_interval_proves_only_its_moment() -> None:
    online, _ = uptime([Signal(at=T0 + H)], T0, T0 + 5 * H, 3)
    assert online == timedelta(0)


def test_weeks_count_signals_and_the_baseline_is_the_median_of_full_weeks() -> None:
    end = T0 + timedelta(days=91)
    first = end - timedelta(days=91)
    activity = []
    for week in range(13):
        per_day = 10 if week < 10 else 2
        for day in range(7):
            activity.append((first + timedelta(days=7 * week + day, hours=9), per_day))
    # Registered in the middle of week 1: weeks 0 and 1 are not full.
    got = weekly_activity(activity, end, first + timedelta(days=10))
    assert [w.signals for w in got.weeks] == [70] * 10 + [14] * 3
    assert [w.full for w in got.weeks] == [False, False] + [True] * 11
    assert got.baseline == 70.0
    assert got.weeks[-1].share == 0.2
    assert got.weeks[0].start == first and got.weeks[-1].end == end


def test_activity_outside_the_weeks_is_left_out_and_no_full_week_means_no_baseline() -> None:
    end = T0 + timedelta(days=91)
    got = weekly_activity([(end, 5), (T0 - H, 5), (end - H, 3)], end, end - timedelta(days=2))
    assert sum(w.signals for w in got.weeks) == 3
    assert got.baseline is None
    assert all(w.share is None for w in got.weeks)


def test_the_chart_scales_into_its_box_and_marks_weeks_below_half_the_baseline() -> None:
    end = T0 + timedelta(days=21)
    activity = [
        (T0 + timedelta(days=1), 100),
        (T0 + timedelta(days=8), 100),
        (T0 + timedelta(days=15), 40),
    ]
    weekly = weekly_activity(activity, end, T0, weeks=3)
    bars, line = chart_bars(weekly, 300, 100)
    assert [b.low for b in bars] == [False, False, True]
    assert all(b.y >= 0 and b.y + b.height <= 100.01 for b in bars)
    assert line is not None and abs(line - bars[0].y) < 0.2  # the median week is 100
    assert bars[2].height < bars[0].height


def test_durations_read_as_staff_say_them() -> None:
    assert duration_text(None) == "—"
    assert duration_text(timedelta(seconds=45)) == "45초"
    assert duration_text(timedelta(minutes=12, seconds=30)) == "12분"
    assert duration_text(timedelta(hours=3, minutes=20)) == "3시간 20분"
    assert duration_text(timedelta(hours=5)) == "5시간"
    assert duration_text(timedelta(days=2, hours=4)) == "2일 4시간"


def test_the_median_span_of_odd_even_and_no_alerts() -> None:
    assert median_span([]) is None
    assert median_span([3 * H, H, 2 * H]) == 2 * H
    assert median_span([H, 4 * H]) == timedelta(hours=2, minutes=30)
