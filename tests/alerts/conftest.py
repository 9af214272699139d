"""Fixtures for the escalation core: a calendar, an engine, residents in virtual time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation
from alerts.inputs import DeviceKind, RegisterDevice
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.state import ResidentState
from alerts.testing import VirtualResident

# Monday 2026-11-23 09:00 in Seoul: the start of a working day.
MONDAY_0900_KST = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

MakeResident = Callable[..., VirtualResident]


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.fixture
def engine(calendar: WorkingCalendar) -> Escalation:
    return Escalation(calendar)


@pytest.fixture
def make_resident(engine: Escalation) -> MakeResident:
    def make(
        policy: Policy = DEFAULT_POLICY,
        start: datetime = MONDAY_0900_KST,
        devices: Mapping[str, DeviceKind] | None = None,
        resident: str = "r-1",
    ) -> VirtualResident:
        clock = FakeClock(start)
        vr = VirtualResident(engine, ResidentState.new(resident, policy, start), clock)
        kinds: Mapping[str, DeviceKind] = (
            {"spk-1": "speaker", "pir-1": "sensors"} if devices is None else devices
        )
        for device, kind in kinds.items():
            vr.send(RegisterDevice(device, kind))
        return vr

    return make


@pytest.fixture
def resident(make_resident: MakeResident) -> VirtualResident:
    """Default policy, one speaker and one motion sensor, watched from Monday 09:00 KST."""
    return make_resident()
