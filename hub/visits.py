"""Readings a visiting nurse takes at a home visit, as the hub's own vitals messages.

Owns what a home-visit reading is between the health centre's page
(:mod:`hub.api.visits_page`) and ingest: the form's fields and the values it takes (checked
with Korean errors, before anything is stored), and the protocol ``vitals`` messages they
become, so a nurse's reading goes through the same intake as a device's: stored once under
``(resident, device, id)``, judged by the resident's vital ranges, out of range paged to the
health centre.

The readings are recorded as from :data:`VISIT_DEVICE`, which no resident registers: it is
no device of the home, so its readings never make a device "online" or count as a heartbeat
(the core only marks devices it has), and only vitals are taken from it. Ingest takes it only
from a :class:`VisitMessage`, which only the page makes; a broker message on its topic is an
unknown device's, as ever.

Each form carries an id made when the form was shown, with that time in it: a reading's
message id is the form's id and its kind, its ``ts`` the time the form was opened (the
visit's, shown on the form), so a form sent twice (a double tap, a resend after a slow
answer) is the very same message, which intake takes once; the same form sent again with
other numbers is intake's ``conflicting_duplicate``, and the page says to open a new form.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hub.mqtt import Incoming
from protocol import BloodPressure, Event, Vitals, to_json
from protocol.glossary import VITAL_KIND_WORDS
from protocol.models import VITAL_UNITS, VitalKind
from protocol.vocab import ID_PATTERN

__all__ = [
    "FIELDS",
    "VISIT_DEVICE",
    "Field",
    "VisitMessage",
    "checked_readings",
    "form_time",
    "is_visit_reading",
    "new_form_id",
    "visit_messages",
]

VISIT_DEVICE: Final = "nurse-visit"
"""The device id a home visit's readings are recorded under."""
FORM_ID_CHARS: Final = 32
FORM_KEPT: Final = timedelta(hours=12)
"""How long a shown form takes readings: a visit's, not yesterday's."""


@dataclass(frozen=True)
class Field:
    """One number of the form: its name, its words, its unit and the values taken."""

    name: str
    label: str
    unit: str
    low: float
    high: float
    step: str  # the input's step: whole numbers, or a tenth for the weight

    @property
    def error(self) -> str:
        span = f"{_plain(self.low)}–{_plain(self.high)} {self.unit}"
        return f"{self.label}은(는) {span} 사이로 적어 주세요."


def _plain(number: float) -> str:
    return f"{number:g}"


# What a nurse can measure at a visit; the ranges are what can be typed, not what is normal
# (the resident's vital ranges judge that): beyond them it is a typing slip.
FIELDS: Final[tuple[Field, ...]] = (
    Field("systolic", "수축기 혈압", VITAL_UNITS["blood_pressure"], 60, 260, "1"),
    Field("diastolic", "이완기 혈압", VITAL_UNITS["blood_pressure"], 30, 160, "1"),
    Field("glucose", VITAL_KIND_WORDS["glucose"], VITAL_UNITS["glucose"], 20, 600, "1"),
    Field("weight", VITAL_KIND_WORDS["weight"], VITAL_UNITS["weight"], 20, 250, "0.1"),
    Field("heart_rate", VITAL_KIND_WORDS["heart_rate"], VITAL_UNITS["heart_rate"], 30, 220, "1"),
    Field("spo2", VITAL_KIND_WORDS["spo2"], VITAL_UNITS["spo2"], 50, 100, "1"),
)
_BY_NAME: Final = {field.name: field for field in FIELDS}


class VisitMessage(Incoming):
    """A home-visit reading made by the hub itself (never received from the broker)."""

    __slots__ = ()


def new_form_id(shown_at: datetime) -> str:
    """The id a form shown at ``shown_at`` carries back: ``v{epoch seconds}-{random}``."""
    return f"v{int(shown_at.timestamp())}-{secrets.token_urlsafe(9)}"


def form_time(form_id: str, now: datetime) -> datetime | None:
    """When the form ``form_id`` was shown, if it is one of ours and still takes readings."""
    if len(form_id) > FORM_ID_CHARS or ID_PATTERN.match(form_id) is None:
        return None
    stamp, _, rest = form_id.partition("-")
    if not rest or not stamp.startswith("v") or not stamp[1:].isdigit():
        return None
    try:
        shown = datetime.fromtimestamp(int(stamp[1:]), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return shown if now - FORM_KEPT <= shown <= now + timedelta(minutes=1) else None


def checked_readings(
    form: Mapping[str, str],
) -> tuple[dict[VitalKind, float | tuple[float, float]], dict[str, str]]:
    """The readings a filled form says, or each field's Korean error (by field name).

    An empty field was not measured. Blood pressure takes both numbers or neither, and the
    diastolic below the systolic. At least one reading is needed.
    """
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        text = form.get(field.name, "").strip().replace(",", ".")
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            errors[field.name] = f"{field.label}은(는) 숫자로 적어 주세요 ({field.unit})."
            continue
        if not field.low <= number <= field.high:  # NaN fails too
            errors[field.name] = field.error
            continue
        values[field.name] = round(number, 1)
    systolic, diastolic = values.get("systolic"), values.get("diastolic")
    if (systolic is None) != (diastolic is None) and not errors.keys() & {"systolic", "diastolic"}:
        missing = "diastolic" if diastolic is None else "systolic"
        errors[missing] = "혈압은 수축기와 이완기를 함께 적어 주세요."
    elif systolic is not None and diastolic is not None and diastolic >= systolic:
        errors["diastolic"] = "이완기 혈압은 수축기 혈압보다 낮아야 합니다."
    readings: dict[VitalKind, float | tuple[float, float]] = {}
    if systolic is not None and diastolic is not None:
        readings["blood_pressure"] = (systolic, diastolic)
    for kind in ("glucose", "weight", "heart_rate", "spo2"):
        if kind in values:
            readings[kind] = values[kind]
    if not readings and not errors:
        errors["form"] = "적어도 한 가지 수치를 적어 주세요."
    return ({} if errors else readings), errors


def visit_messages(
    resident_id: str,
    form_id: str,
    readings: Mapping[VitalKind, float | tuple[float, float]],
    ts: datetime,
) -> list[VisitMessage]:
    """The vitals messages of one visit form, each under ``{form_id}-{kind}``."""
    messages = []
    for kind, value in readings.items():
        body: Any = (
            BloodPressure(systolic=value[0], diastolic=value[1])
            if isinstance(value, tuple)
            else float(value)
        )
        vitals = Vitals(
            v=1, id=f"{form_id}-{kind}", ts=ts, kind=kind, value=body, unit=VITAL_UNITS[kind]
        )
        messages.append(
            VisitMessage(
                topic=f"anbu/v1/{resident_id}/{VISIT_DEVICE}/vitals",
                payload=to_json(vitals),
                mid=0,
                qos=1,
                retain=False,
                generation=0,
            )
        )
    return messages


def is_visit_reading(event: Event, message: Incoming) -> bool:
    """Whether ingest takes ``event`` as a home visit's reading (see the module docstring)."""
    return (
        isinstance(message, VisitMessage)
        and event.device == VISIT_DEVICE
        and event.kind == "vitals"
    )
