"""Trend charts: lasting changes against the resident's own baseline, and nothing else."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

from alerts.trends import DayFigures, Trends, daily

DAY0 = date(2026, 11, 2)


def day(n: int, signals: int, night_min: int | None = 510, night_hours: int = 0) -> DayFigures:
    part = signals // 4
    return DayFigures(
        DAY0 + timedelta(days=n), (part, part, part, signals - 3 * part), night_min, night_hours
    )


def noisy(rng: random.Random, level: float) -> int:
    return max(0, round(rng.gauss(level, level * 0.15)))


def test_steady_days_with_ordinary_noise_raise_nothing_for_a_year() -> None:
    rng = random.Random(7)
    trends = Trends()
    found = []
    for n in range(365):
        found += daily(trends, day(n, noisy(rng, 200), round(rng.gauss(510, 25))))
    assert len(found) <= 2, found  # about one false signal a year per chart, by design


def test_a_lasting_drop_is_found_within_a_week_and_not_repeated_for_two() -> None:
    rng = random.Random(3)
    trends = Trends()
    for n in range(28):
        assert daily(trends, day(n, noisy(rng, 200))) == []
    found = []
    for n in range(28, 60):
        found += [(f.kind, f.day, f.detail) for f in daily(trends, day(n, noisy(rng, 110)))]
    drops = [f for f in found if f[0] == "activity_drop"]
    assert drops, found
    first = drops[0][1]
    assert (first - (DAY0 + timedelta(days=28))).days <= 6
    assert "활동 감소 추이" in drops[0][2] and "%" in drops[0][2]
    assert all((b[1] - a[1]).days >= 14 for a, b in itertools.pairwise(drops))


def test_restless_nights_and_a_longer_night_are_their_own_findings() -> None:
    rng = random.Random(5)
    trends = Trends()
    for n in range(28):
        daily(trends, day(n, noisy(rng, 200), round(rng.gauss(510, 20)), rng.choice((0, 0, 1))))
    kinds = set()
    for n in range(28, 45):
        figures = day(n, noisy(rng, 200), round(rng.gauss(600, 20)), rng.choice((2, 3)))
        kinds |= {f.kind for f in daily(trends, figures)}
    assert {"sleep_shift", "restless_nights"} <= kinds
