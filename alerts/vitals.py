"""Vital-sign rules: per-resident ranges with clinical defaults, and what a reading means.

Owns :class:`VitalRanges` (the range fields every :class:`~alerts.policy.Policy` carries, so a
resident's ranges are set, versioned and PATCHed like any other policy field), the rules that
judge one reading (:func:`classify` and the one rule per measure it dispatches to), and the
short history of daily weights the weight-change rule compares against (:func:`record_weight`).
Pure: no I/O, no clock.

A reading is ``normal``, ``out_of_range`` (the health centre follows it up in working hours) or
``critical`` (the control centre is paged at once). Every bound is the last acceptable value:
a reading equal to a bound is in range, one beyond it is not. A nurse may widen or narrow any
bound per resident (a resident with COPD may live at SpO2 88-92 %); a low bound of 0 or a high
bound at its largest allowed value switches that side off.

Defaults and where they come from (readings in the protocol's units):

* **Glucose, mg/dL** - in range 70-180, critical below 54 or above 400. 70-180 is the target
  range of the international consensus on time in range (Battelino et al., Diabetes Care
  2019;42:1593-1603); below 70 is level-1 and below 54 level-2 (clinically significant)
  hypoglycaemia in the ADA Standards of Care in Diabetes 2024, section 6. Above 400 is our
  choice, not a guideline grade: it lies between the glucose of diabetic ketoacidosis (>250
  with ketosis) and of the hyperosmolar state (>600) in the ADA consensus on hyperglycaemic
  crises (Kitabchi et al., Diabetes Care 2009;32:1335-1343), and a home reading that high needs
  a call the same night. A glucometer's "LO" sent as 0 counts as critical.
* **Blood pressure, mmHg** - systolic in range 90-160 and diastolic up to 100; critical above
  180 systolic or 120 diastolic, or below 80 systolic. 160/100 is where grade 2 hypertension
  begins in the 2018 ESC/ESH guidelines (Williams et al., Eur Heart J 2018;39:3021-3104) and
  stage 2 in the Korean Society of Hypertension's 2022 guideline; 160/100 itself is accepted,
  a difference within any home monitor's error. Above 180 and/or 120 is the severe elevation
  (hypertensive urgency or emergency) of the 2017 ACC/AHA guideline (Whelton et al.,
  Hypertension 2018;71:e13-e115). Below 90 systolic is the usual definition of hypotension and
  scores NEWS2's maximum (Royal College of Physicians, National Early Warning Score 2, 2017);
  below 80 is our line for paging the control centre, since a resident measuring at home at
  80-90 is more often orthostatic than in shock. No diastolic low bound: a low diastolic is
  common in older people with stiff arteries and would page nobody usefully.
* **SpO2, %** - in range from 92, critical below 88. The British Thoracic Society's oxygen
  guideline (O'Driscoll et al., Thorax 2017;72:i1-i90) targets 94-98 %, or 88-92 % for people
  at risk of hypercapnic respiratory failure: below 92 is outside the usual target, below 88
  outside even the COPD one.
* **Heart rate, bpm** - in range 50-120, critical below 40 or above 140. NEWS2 scores 41-50 and
  111-130 as abnormal and gives its maximum at 40 or less and 131 or more; our high bounds are
  looser because wrist trackers also measure while the resident walks, and NEWS2 is scored at
  rest.
* **Weight, kg** - a change of more than 2 kg, gain or loss, against the daily weight of about
  a week before (:data:`WEEK`, +/- :data:`WEEK_SLACK` days) is out of range; weight is never
  critical. The 2021 ESC heart failure guidelines (McDonagh et al., Eur Heart J
  2021;42:3599-3726) ask patients to weigh daily and call on an unexpected gain of more than
  2 kg in 3 days; a week's window also catches slower fluid gain, and a loss that size points
  to dehydration or illness. A fixed 2 kg rather than a percentage because nurses think in kg
  (for a 50 kg resident 5 % would be 2.5 kg).
* **Steps** are not a vital sign: no rule judges them.

A reading of 0 from a blood pressure monitor, pulse oximeter, heart-rate sensor or scale is
the device saying "no measurement" (no finger in the clip, stepping off the scale): no rule
judges it, so a cold finger at 03:00 pages nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts.inputs import VitalReading
from protocol.vocab import KOREA_TZ

VitalLevel = Literal["normal", "out_of_range", "critical"]

WEEK = 7
"""Days between a weight and the one it is compared with."""
WEEK_SLACK = 2
"""Days either side of :data:`WEEK` an earlier weight may be, for a resident who skips days."""
WEIGHT_DAYS_KEPT = 14
"""How many days of daily weights the resident's state keeps (a bounded, small list)."""

_SEVERITY: dict[VitalLevel, int] = {"normal": 0, "out_of_range": 1, "critical": 2}

# Bounds by unit. Float defaults, so a policy dumped to JSON and read back dumps the same text.
_MgDl = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]
_MmHg = Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)]
_Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
_Bpm = Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)]
_Kg = Annotated[float, Field(gt=0, le=50, allow_inf_nan=False)]


class VitalRanges(BaseModel):
    """Per-resident vital-sign bounds; :class:`~alerts.policy.Policy` inherits these fields.

    ``*_low`` / ``*_high``: beyond it the reading is out of range; ``*_critical_*``: beyond it,
    critical. For each measure ``critical_low <= low < high <= critical_high`` must hold.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    glucose_low: _MgDl = 70.0
    glucose_high: _MgDl = 180.0
    glucose_critical_low: _MgDl = 54.0
    glucose_critical_high: _MgDl = 400.0
    systolic_low: _MmHg = 90.0
    systolic_high: _MmHg = 160.0
    systolic_critical_low: _MmHg = 80.0
    systolic_critical_high: _MmHg = 180.0
    diastolic_high: _MmHg = 100.0
    diastolic_critical_high: _MmHg = 120.0
    spo2_low: _Percent = 92.0
    spo2_critical_low: _Percent = 88.0
    heart_rate_low: _Bpm = 50.0
    heart_rate_high: _Bpm = 120.0
    heart_rate_critical_low: _Bpm = 40.0
    heart_rate_critical_high: _Bpm = 140.0
    weight_change_kg: _Kg = 2.0
    """A larger change, gain or loss, against the weight of about a week before."""

    @model_validator(mode="after")
    def _bounds_nest(self) -> Self:
        for measure, bounds in self.bounds().items():
            present = [(side, value) for side, value in bounds.items() if value is not None]
            for (side_a, a), (side_b, b) in pairwise(present):
                strict = (side_a, side_b) == ("low", "high")
                if b < a or (strict and b == a):
                    relation = "below" if strict else "at most"
                    msg = (
                        f"{measure}_{side_a} ({a:g}) must be {relation} {measure}_{side_b} ({b:g})"
                    )
                    raise ValueError(msg)
        return self

    def bounds(self) -> dict[str, dict[str, float | None]]:
        """Each measure's bounds from lowest to highest: critical_low, low, high, critical_high.

        ``None`` where a measure has no such bound (SpO2 has no high, diastolic no low).
        """
        return {
            "glucose": _four(
                self.glucose_critical_low,
                self.glucose_low,
                self.glucose_high,
                self.glucose_critical_high,
            ),
            "systolic": _four(
                self.systolic_critical_low,
                self.systolic_low,
                self.systolic_high,
                self.systolic_critical_high,
            ),
            "diastolic": _four(None, None, self.diastolic_high, self.diastolic_critical_high),
            "spo2": _four(self.spo2_critical_low, self.spo2_low, None, None),
            "heart_rate": _four(
                self.heart_rate_critical_low,
                self.heart_rate_low,
                self.heart_rate_high,
                self.heart_rate_critical_high,
            ),
        }


def _four(
    critical_low: float | None, low: float | None, high: float | None, critical_high: float | None
) -> dict[str, float | None]:
    return {"critical_low": critical_low, "low": low, "high": high, "critical_high": critical_high}


DEFAULT_RANGES = VitalRanges()


class DailyWeight(BaseModel):
    """The first weight of one local day, the one compared against a week later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    kg: float


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule says about a reading; ``rule`` names the bound that was crossed.

    ``rule`` is e.g. ``glucose_low``, ``systolic_critical_high``, ``weight_gain``; for a normal
    reading it is the measure (``glucose``). It goes on the alert (board, timeline), never into
    an SMS.
    """

    level: VitalLevel
    rule: str


# --- the rules, one per measure -----------------------------------------------------------


def glucose_out_of_range(mg_dl: float, ranges: VitalRanges) -> Finding:
    """Blood glucose against the resident's range (ADA hypoglycaemia levels, time in range)."""
    return _band("glucose", mg_dl, ranges)


def blood_pressure_out_of_range(
    systolic: float, diastolic: float | None, ranges: VitalRanges
) -> Finding:
    """Systolic and diastolic against their bounds; the worse of the two, systolic on a tie."""
    found = _band("systolic", systolic, ranges)
    if diastolic is not None:
        other = _band("diastolic", diastolic, ranges)
        if _SEVERITY[other.level] > _SEVERITY[found.level]:
            found = other
    return found if found.level != "normal" else Finding("normal", "blood_pressure")


def spo2_out_of_range(percent: float, ranges: VitalRanges) -> Finding:
    """Oxygen saturation below the resident's floor (BTS oxygen targets)."""
    return _band("spo2", percent, ranges)


def heart_rate_out_of_range(bpm: float, ranges: VitalRanges) -> Finding:
    """Pulse too slow or too fast (NEWS2 bands, looser above for readings taken on the move)."""
    return _band("heart_rate", bpm, ranges)


def weight_change_over_a_week(
    kg: float, day: date, weights: Sequence[DailyWeight], ranges: VitalRanges
) -> Finding:
    """More than ``weight_change_kg`` gained or lost against the weight of about a week before.

    The earlier weight is the stored daily weight closest to :data:`WEEK` days before ``day``
    within :data:`WEEK_SLACK` days (the older one on a tie); without one there is nothing to
    compare with and the reading is normal.
    """
    reference = week_before(day, weights)
    if reference is None:
        return Finding("normal", "weight")
    change = kg - reference.kg
    if abs(change) > ranges.weight_change_kg:
        return Finding("out_of_range", "weight_gain" if change > 0 else "weight_loss")
    return Finding("normal", "weight")


def week_before(day: date, weights: Sequence[DailyWeight]) -> DailyWeight | None:
    """The daily weight :func:`weight_change_over_a_week` compares ``day``'s weight with."""
    target = day - timedelta(days=WEEK)
    candidates = [w for w in weights if abs((w.day - target).days) <= WEEK_SLACK]
    return min(candidates, key=lambda w: (abs((w.day - target).days), w.day), default=None)


def classify(
    reading: VitalReading,
    ranges: VitalRanges,
    weights: Sequence[DailyWeight] = (),
    tz: str = KOREA_TZ,
) -> Finding | None:
    """What ``reading`` means for a resident with ``ranges``; ``None`` when no rule judges it.

    ``weights`` are the resident's earlier daily weights; ``tz`` decides which local day a
    weight belongs to.
    """
    value = reading.value
    if reading.kind != "glucose" and value <= 0:
        return None
    if reading.kind == "blood_pressure":
        return blood_pressure_out_of_range(value, reading.diastolic, ranges)
    if reading.kind == "weight":
        return weight_change_over_a_week(value, local_day(reading.at, tz), weights, ranges)
    rule = _ONE_NUMBER_RULES.get(reading.kind)  # steps: none
    return None if rule is None else rule(value, ranges)


_ONE_NUMBER_RULES: dict[str, Callable[[float, VitalRanges], Finding]] = {
    "glucose": glucose_out_of_range,
    "spo2": spo2_out_of_range,
    "heart_rate": heart_rate_out_of_range,
}


def record_weight(
    weights: Sequence[DailyWeight], at: datetime, kg: float, tz: str = KOREA_TZ
) -> list[DailyWeight]:
    """``weights`` with this reading added as its day's weight, oldest first.

    Only the first weight of a day is kept (the morning weight heart-failure self-care asks
    for); days more than :data:`WEIGHT_DAYS_KEPT` before the newest are dropped, so the list
    never holds more than ``WEIGHT_DAYS_KEPT + 1`` entries. A zero reading is not a weight.
    """
    kept = list(weights)
    day = local_day(at, tz)
    if kg > 0 and all(w.day != day for w in kept):
        kept.append(DailyWeight(day=day, kg=kg))
    if not kept:
        return kept
    newest = max(w.day for w in kept)
    oldest = newest - timedelta(days=WEIGHT_DAYS_KEPT)
    return sorted((w for w in kept if w.day >= oldest), key=lambda w: w.day)


def local_day(at: datetime, tz: str) -> date:
    """The calendar date of ``at`` where the resident lives."""
    return at.astimezone(ZoneInfo(tz)).date()


def _band(measure: str, value: float, ranges: VitalRanges) -> Finding:
    bounds = ranges.bounds()[measure]
    checks: tuple[tuple[str, VitalLevel, bool], ...] = (
        ("critical_low", "critical", True),
        ("critical_high", "critical", False),
        ("low", "out_of_range", True),
        ("high", "out_of_range", False),
    )
    for side, level, below in checks:
        bound = bounds[side]
        if bound is None:
            continue
        if (below and value < bound) or (not below and value > bound):
            return Finding(level, f"{measure}_{side}")
    return Finding("normal", measure)
