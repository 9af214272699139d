"""How a what-if scores slow declines and trend findings (simulators/scoring.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulators.scoring import HouseholdResult, IncidentOutcome, figures

START = datetime(2026, 12, 7, tzinfo=UTC)
END = START + timedelta(days=60)


def household(
    resident: str, decline_day: float | None, trends_days: list[float]
) -> HouseholdResult:
    incidents = []
    if decline_day is not None:
        at = START + timedelta(days=decline_day)
        incidents.append(IncidentOutcome("slow_decline", at, None, False, None, None))
    trends = [(START + timedelta(days=d), "activity_drop") for d in trends_days]
    return HouseholdResult(resident, "sensors", [], incidents, 0, 0, 0, trends=trends)


def test_a_decline_whose_week_runs_past_the_end_is_not_counted_as_missed() -> None:
    rows = [
        household("a", 20, [25]),  # surfaced in 5 days
        household("b", 30, [40]),  # in 10 days: not within 7, within 14
        household("c", 40, []),  # never
        household("d", 57, []),  # three days left in the run: cannot be judged
    ]
    got = figures(rows, START, END)["slow_decline"]
    assert got["count"] == 3
    assert got["censored"] == 1
    assert got["surfaced_within_7_days"] == 1
    assert got["surfaced_share"] == 33.3
    assert got["surfaced_within_14_days"] == 2
    assert got["surfaced_median_days"] == 7.5


def test_false_trends_count_findings_on_households_without_a_decline() -> None:
    rows = [
        household("a", 20, [25]),  # a true finding: not counted
        household("b", None, [10, 30]),  # two false ones
        household("c", None, []),
        household("d", None, [70]),  # after the window
    ]
    got = figures(rows, START, END)
    # 3 households without a decline x 2 months: 2 findings is 33.3 per 100 household-months
    assert got["false_trends_per_100_household_months"] == 33.3
