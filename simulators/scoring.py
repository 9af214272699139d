"""Scoring a virtual run against the model's ground truth, and the figures a what-if reports.

Owns the result records of one household's run (:class:`AlertRecord`, :class:`IncidentOutcome`,
:class:`HouseholdResult`), :func:`score` (which alert each incident explains, which alerts are
false alarms, how fast each incident was told to someone and checked on) and :func:`figures`
(the counts and rates over a set of households, from a day on).

Definitions (as the field counts them):

* A **false alarm** is an inactivity alert no incident explains, or one a benign absence
  explains (a hospital stay nobody announced, nights at a child's home, a phone left at home):
  the resident was fine. Rates are per 100 household-months, per role told.
* **Told**: the first page of a guardian or the control centre about a matching alert, at or
  after the incident's start. A fall someone else found first (a carer, family, the fall's
  own duration) before anyone was told is **found by others** and is left out of "told
  within 24 h".
* **Checked**: when a person first reached the resident (a phone call answered, someone at
  the door), or the fall was found by others.
* **Night guardian SMS**: non-emergency guardian messages handed over between 23:00 and 07:00
  in Korea, as a share of all guardian messages.
* **Surfaced**: a slow decline put on the district official's work list (a trend finding)
  within 7 days of its start (and, reported beside it, within 14 days, and the median days to
  the first finding). A decline whose 7 days run past the end of the window cannot be judged
  either way: it is counted apart (``censored``), not as missed.
* **False trends**: trend findings on households with no slow decline, per 100
  household-months of those households: what an official's work list carries for nothing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from alerts.policy import Policy
from simulators.model import KST, Incident, Simulation

__all__ = [
    "DETECTABLE",
    "AlertRecord",
    "HouseholdResult",
    "IncidentOutcome",
    "figures",
    "score",
]

DETECTABLE = ("fall", "emergency_call", "emergency_then_cancel", "slow_decline")
"""Incidents someone should be told about; time to detect is measured for these."""

# Absences after which the resident is fine: an alert during one is a false alarm, but the
# report names the cause so a policy's noise can be told apart from its blind spots.
BENIGN = ("hospital_stay", "phone_left_at_home", "nights_away")
# Device faults: they explain a monitoring_lost alert, nothing else.
DEVICE_FAULTS = ("speaker_unplugged", "battery", "wifi_drop", "power_cut")
# Who counts as "told" for time to detect: the people who can go and look.
RESPONDERS = ("guardian", "control_center")
RECIPIENTS = ("guardian", "official", "control_center")
_WANTS = {
    "emergency": {"fall", "emergency_call", "emergency_then_cancel"},
    "inactivity": {"fall", "slow_decline", *BENIGN},
    "monitoring_lost": {*DEVICE_FAULTS, "hospital_stay", "nights_away"},
}


@dataclass(slots=True)
class AlertRecord:
    """One alert the core opened, and what happened to it, in virtual time."""

    alert_id: str
    kind: str
    reason: str
    opened_at: datetime
    told: dict[str, datetime] = field(default_factory=dict)
    """Role -> first time that role was told (an official's digest counts at delivery)."""
    stages: list[tuple[str, datetime]] = field(default_factory=list)
    pages: list[tuple[str, datetime]] = field(default_factory=list)
    """Every Notify to a person, (role, when): time to detect looks past the first."""
    resolved_at: datetime | None = None
    resolved_reason: str | None = None
    explanation: str | None = None
    checked_at: datetime | None = None
    explained_by: str | None = None
    """The ground-truth incident kind behind it; None means a false alarm from routine."""
    false_alarm: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "reason": self.reason,
            "explanation": self.explanation,
            "opened_at": _iso(self.opened_at),
            "told": {role: _iso(at) for role, at in sorted(self.told.items())},
            "stages": [[stage, _iso(at)] for stage, at in self.stages],
            "resolved_at": None if self.resolved_at is None else _iso(self.resolved_at),
            "resolved_reason": self.resolved_reason,
            "explained_by": self.explained_by,
            "false_alarm": self.false_alarm,
        }


@dataclass(frozen=True, slots=True)
class IncidentOutcome:
    """A ground-truth incident and whether (and how fast) a responder was told."""

    kind: str
    start: datetime
    end: datetime | None
    detected: bool
    time_to_detect_s: float | None
    alert_id: str | None
    under_open_alert: bool = False
    """An alert of a matching kind was already open when the incident began."""
    found_by_others: bool = False
    """Someone else ended it (found the resident) before anyone was told."""
    time_to_check_s: float | None = None
    """Start to the first person reaching the resident (or finding them)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "detected": self.detected,
            "time_to_detect_s": self.time_to_detect_s,
            "alert_id": self.alert_id,
            "under_open_alert": self.under_open_alert,
            "found_by_others": self.found_by_others,
            "time_to_check_s": self.time_to_check_s,
        }


@dataclass(slots=True)
class HouseholdResult:
    """Everything one household's run produced, already scored against the ground truth."""

    resident: str
    devices: str
    alerts: list[AlertRecord]
    incidents: list[IncidentOutcome]
    official_pages_out_of_hours: int
    decide_calls: int
    sim_events: int
    checkins_answered: int = 0
    checkins: list[datetime] = field(default_factory=list)
    """When a check-in was asked (virtual time)."""
    guardian_sms: list[tuple[datetime, bool]] = field(default_factory=list)
    """Every guardian message handed over: (when, about an emergency)."""
    trends: list[tuple[datetime, str]] = field(default_factory=list)
    """Trend findings put on the official's work list: (when, kind)."""
    rescued_at: datetime | None = None

    @property
    def false_alarms(self) -> list[AlertRecord]:
        return [a for a in self.alerts if a.false_alarm]

    def to_json(self) -> dict[str, Any]:
        return {
            "resident": self.resident,
            "devices": self.devices,
            "alerts": [a.to_json() for a in self.alerts],
            "incidents": [i.to_json() for i in self.incidents],
            "false_alarms": len(self.false_alarms),
            "official_pages_out_of_hours": self.official_pages_out_of_hours,
            "decide_calls": self.decide_calls,
            "sim_events": self.sim_events,
            "checkins_answered": self.checkins_answered,
            "checkins": len(self.checkins),
            "trends": [[_iso(at), kind] for at, kind in self.trends],
        }


def score(
    alerts: list[AlertRecord], truth: Sequence[Incident], sim: Simulation, policy: Policy
) -> list[IncidentOutcome]:
    """Match alerts to incidents; mark the rest as false alarms; time each detection.

    An alert is explained by an incident when it opens inside the incident's window: from
    its start to its end plus ``control_center_after`` (an inactivity alert counts T from
    the last activity, which comes before a fall, so it can open long after the fall ended
    only in that window). Emergency alerts match emergency incidents and detected falls;
    inactivity alerts match falls and slow decline; monitoring_lost alerts match device
    faults and absences.
    """
    grace = policy.control_center_after
    end_of_run = datetime.combine(sim.start, time(0), KST).astimezone(UTC) + timedelta(
        days=sim.days
    )

    def window(inc: Incident) -> tuple[datetime, datetime]:
        end = inc.end or end_of_run
        return inc.start, end + grace

    for alert in alerts:
        for inc in truth:
            lo, hi = window(inc)
            if inc.kind in _WANTS.get(alert.kind, set()) and lo <= alert.opened_at <= hi:
                alert.explained_by = inc.kind
                break
        alert.false_alarm = alert.explained_by is None or alert.explained_by in BENIGN

    outcomes = []
    for inc in truth:
        if inc.kind not in DETECTABLE:
            continue
        lo, hi = window(inc)
        # Besides alerts opened in the window, an alert already open when the incident
        # began covers it too: the core keeps one inactivity alert at a time, so its later
        # escalation is what reaches people.
        covering = [
            a
            for a in alerts
            if inc.kind in _WANTS.get(a.kind, set())
            and a.opened_at <= hi
            and (a.opened_at >= lo or a.resolved_at is None or a.resolved_at > lo)
        ]
        pages = [
            (at, a.alert_id)
            for a in covering
            for role, at in a.pages
            if role in RESPONDERS and at >= lo
        ]
        first = min(pages, default=None)
        others = (
            inc.kind == "fall"
            and inc.end is not None
            and inc.found_by is not None
            and (first is None or inc.end < first[0])
        )
        checks = [a.checked_at for a in covering if a.checked_at is not None and a.checked_at >= lo]
        if inc.kind == "fall" and inc.end is not None:
            checks.append(inc.end)
        checked = min(checks, default=None)
        outcomes.append(
            IncidentOutcome(
                kind=inc.kind,
                start=inc.start,
                end=inc.end,
                detected=first is not None,
                time_to_detect_s=None if first is None else (first[0] - lo).total_seconds(),
                alert_id=None if first is None else first[1],
                under_open_alert=any(a.opened_at < lo for a in covering),
                found_by_others=others,
                time_to_check_s=None if checked is None else (checked - lo).total_seconds(),
            )
        )
    return outcomes


# ------------------------------------------------------------------------------ figures


def figures(
    households: Iterable[HouseholdResult], start: datetime, end: datetime
) -> dict[str, Any]:
    """Figures over ``households`` for what began in [start, end) (see the module docstring).

    Trend findings count for a slow decline when made within 7 days of its start.
    """
    rows = list(households)
    months = len(rows) * (end - start).total_seconds() / 86400 / 30
    per_role = dict.fromkeys(RECIPIENTS, 0)
    by_cause: dict[str, int] = {}
    falls: list[IncidentOutcome] = []
    emergencies: list[IncidentOutcome] = []
    declines: list[tuple[IncidentOutcome, HouseholdResult]] = []
    sms = night = checkins = 0
    steady = false_trends = 0
    for hh in rows:
        if not any(inc.kind == "slow_decline" for inc in hh.incidents):
            steady += 1
            false_trends += sum(1 for at, _ in hh.trends if start <= at < end)
        for alert in hh.false_alarms:
            if start <= alert.opened_at < end:
                cause = alert.explained_by or "routine"
                by_cause[cause] = by_cause.get(cause, 0) + 1
                for role in RECIPIENTS:
                    per_role[role] += int(role in alert.told)
        for inc in hh.incidents:
            if not start <= inc.start < end:
                continue
            if inc.kind == "fall":
                falls.append(inc)
            elif inc.kind in ("emergency_call", "emergency_then_cancel"):
                emergencies.append(inc)
            elif inc.kind == "slow_decline":
                declines.append((inc, hh))
        for at, emergency in hh.guardian_sms:
            if start <= at < end:
                sms += 1
                hour = at.astimezone(KST).hour
                night += int(not emergency and (hour >= 23 or hour < 7))
        checkins += sum(1 for at in hh.checkins if start <= at < end)
    return {
        "households": len(rows),
        "household_months": round(months, 2),
        "false_alarms": {
            "alerts": sum(by_cause.values()),
            "by_cause": dict(sorted(by_cause.items())),
            "per_100_household_months": {
                role: _round(100 * n / months) if months else None for role, n in per_role.items()
            },
        },
        "falls": _falls(falls),
        "emergencies": _delays(emergencies),
        "slow_decline": _declines(declines, end),
        "false_trends_per_100_household_months": (
            _round(100 * false_trends / (months * steady / len(rows)))
            if steady and months
            else None
        ),
        "guardian_sms": sms,
        "night_guardian_sms_share": _round(100 * night / sms) if sms else None,
        "checkins_per_household_day": (round(checkins / (months * 30), 3) if months else None),
    }


def _falls(falls: list[IncidentOutcome]) -> dict[str, Any]:
    eligible = [f for f in falls if not f.found_by_others]
    told = [f.time_to_detect_s for f in eligible if f.time_to_detect_s is not None]
    within = [t for t in told if t <= 86400]
    checked = [f.time_to_check_s for f in falls if f.time_to_check_s is not None]
    return {
        "count": len(falls),
        "found_by_others": len(falls) - len(eligible),
        "told": len(told),
        "told_within_24h_share": _round(100 * len(within) / len(eligible)) if eligible else None,
        "delay_median_h": _hours(statistics.median(told)) if told else None,
        "delay_p90_h": _hours(_percentile(told, 0.9)) if told else None,
        "checked_median_h": _hours(statistics.median(checked)) if checked else None,
    }


def _delays(items: list[IncidentOutcome]) -> dict[str, Any]:
    told = [i.time_to_detect_s for i in items if i.time_to_detect_s is not None]
    return {
        "count": len(items),
        "told": len(told),
        "delay_median_s": _round(statistics.median(told)) if told else None,
        "delay_max_s": _round(max(told)) if told else None,
    }


def _declines(
    items: list[tuple[IncidentOutcome, HouseholdResult]], end: datetime
) -> dict[str, Any]:
    surfaced = within_14 = censored = 0
    delays: list[float] = []
    for inc, hh in items:
        first = min((at for at, _ in hh.trends if at >= inc.start), default=None)
        days = None if first is None else (first - inc.start).total_seconds() / 86400
        if inc.start + timedelta(days=7) > end:
            censored += 1
            continue
        surfaced += int(days is not None and days <= 7)
        within_14 += int(days is not None and days <= 14)
        if days is not None:
            delays.append(days)
    judged = len(items) - censored
    return {
        "count": judged,
        "censored": censored,
        "surfaced_within_7_days": surfaced,
        "surfaced_share": _round(100 * surfaced / judged) if judged else None,
        "surfaced_within_14_days": within_14,
        "surfaced_median_days": _round(statistics.median(delays)) if delays else None,
        "alerted_within_24h": sum(
            1 for inc, _ in items if (inc.time_to_detect_s or math.inf) <= 86400
        ),
    }


def _percentile(values: Sequence[float], q: float) -> float:
    # Nearest rank: with a few dozen incidents an interpolated figure would invent a time
    # no incident actually took.
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def _round(x: float) -> float:
    return round(x, 1)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
