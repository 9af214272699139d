"""The domain's vocabulary, defined once for every part of Anbu.

Owns the closed sets the field names and every layer shares: device kinds, the roles of the
people an alert reaches and of the staff who sign in, alert kinds, stages, the outcomes staff
close an alert with, the id pattern of the wire contract, Korea's time zone and phone numbers
in E.164. ``protocol`` is the shared base (``alerts``, ``hub``, ``edge`` and ``simulators``
all import it), so a set defined here cannot drift between them; a test
(``tests/protocol/test_vocab.py``) fails when a copy appears elsewhere. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import Final, Literal, get_args

__all__ = [
    "ALERT_KINDS",
    "CONTACT_ROLES",
    "DEVICE_KINDS",
    "DISTRICT_ROLES",
    "ID_PATTERN",
    "ID_REGEX",
    "INACTIVE_REASONS",
    "KOREA_TZ",
    "KST",
    "ONE_TIME_STEPS",
    "OUTCOMES",
    "PHONE_SEPARATORS",
    "RESIDENT_WAS_FINE",
    "STAFF_ROLES",
    "STAGES",
    "AlertKind",
    "CentreStep",
    "ContactRole",
    "DeviceKind",
    "InactiveReason",
    "Outcome",
    "StaffRole",
    "Stage",
    "normalise_phone",
]

DeviceKind = Literal["speaker", "phone", "sensors"]
"""What an edge agent runs on: an AI speaker, the resident's phone, a home sensor gateway."""
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = get_args(DeviceKind)

ContactRole = Literal["guardian", "official", "control_center", "health_center", "supervisor"]
"""Who an alert can reach: family, the district official (working hours), the 24 h control
centre, the health centre (vital signs, working hours) and the centre's supervisor."""
CONTACT_ROLES: Final[tuple[ContactRole, ...]] = get_args(ContactRole)

StaffRole = Literal["admin", "operator", "official", "health_center"]
"""Who signs in to the hub's API and board; ``health_center``: the health centre's visiting
nurse (방문건강관리), who records readings taken at a home visit."""
STAFF_ROLES: Final[tuple[StaffRole, ...]] = get_args(StaffRole)
DISTRICT_ROLES: Final[frozenset[StaffRole]] = frozenset({"official", "health_center"})
"""Staff who work for one district: they need one, and see only its residents."""

AlertKind = Literal[
    "emergency",
    "inactivity",
    "monitoring_lost",
    "device_offline",
    "vital_out_of_range",
    "water_running",
]
"""In the order reports list them: the most urgent first."""
ALERT_KINDS: Final[tuple[AlertKind, ...]] = get_args(AlertKind)

Stage = Literal["checkin", "guardian", "health_center", "control_center"]
"""How far an alert has reached; ``health_center`` is where vital alerts start."""
STAGES: Final[tuple[Stage, ...]] = get_args(Stage)

Outcome = Literal[
    "false_alarm", "resolved_by_phone", "visited", "transported", "resolved_by_guardian", "other"
]
"""What a person closing an alert found (``resolved_by_guardian``: through the guardian's
link, or a guardian who told the centre)."""
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
RESIDENT_WAS_FINE: Final[frozenset[Outcome]] = frozenset(
    {"false_alarm", "resolved_by_phone", "resolved_by_guardian"}
)
"""Outcomes that say the resident was well: a guardian's SMS still held can be withdrawn."""

CentreStep = Literal["called_resident", "no_answer", "dispatched", "called_119", "note"]
"""What the centre records doing on an alert (the board's buttons)."""
ONE_TIME_STEPS: Final[frozenset[CentreStep]] = frozenset({"called_119", "dispatched"})
"""Steps done once per alert: clicked twice they were recorded (and reported) twice. Calling
the resident and getting no answer may well happen again, and are recorded each time."""

InactiveReason = Literal["moved", "care", "died", "other"]
"""Why a resident is no longer watched: moved away, into care (a facility or hospital for
good), died, or another reason the centre records."""
INACTIVE_REASONS: Final[tuple[InactiveReason, ...]] = get_args(InactiveReason)

# ID_REGEX for JSON Schema and pydantic (where `$` is the end of input), ID_PATTERN for
# Python's re, where `$` would also match before a trailing newline.
ID_REGEX: Final = "^[A-Za-z0-9_-]{1,64}$"
ID_PATTERN: Final = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")

KOREA_TZ: Final = "Asia/Seoul"
"""Korea's time zone by name, the default of every setting and formatter that takes one:
working hours, quiet hours, SMS times and reports are local to it."""
KST: Final = timezone(timedelta(hours=9), "KST")
"""The same as a fixed offset, for code that converts millions of times (simulators, benches):
Korea has kept UTC+9 without daylight saving since 1988, so it is exact for any date the hub
sees."""

PHONE_SEPARATORS: Final = re.compile(r"[\s\-().]")
"""What people write between a phone number's digits."""


def normalise_phone(raw: str) -> str | None:
    """A Korean number in E.164 (``010-1234-5678`` → ``+821012345678``), or ``None``."""
    compact = PHONE_SEPARATORS.sub("", raw)
    if compact.startswith("+82"):
        national = compact[3:]
        # "+82 10 …" and "+82 010 …" are both written; the trunk 0 is optional after +82.
        if not national.startswith("0"):
            national = "0" + national
    else:
        national = compact
    # Foreign numbers are refused: the SMS providers the hub uses send domestic only.
    if not national.isdigit() or not 9 <= len(national) <= 11:
        return None
    # "00…" is the international dialling prefix, not a domestic number.
    if national[0] != "0" or national[1] == "0":
        return None
    return "+82" + national[1:]
