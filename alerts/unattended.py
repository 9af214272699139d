"""Unattended appliances: in a home with a motion sensor, a plug's power rising while the
sensor has seen nobody for an hour is not a sign of life.

A resident who falls with the TV on leaves it on; a draw that hovers around the plug's
threshold (or a fridge, a heater's thermostat, a washing machine on a delay) makes a power
edge every so often for as long as it runs, and each would otherwise count as the resident
being up, moving the inactivity basis and with it the control centre's 24 h cap: the fall
would be told a day and a half later. A person who switches an appliance on is near it and
moving, and a motion sensor in the home sees them within the hour (a PIR misses someone
sitting still, not someone walking to the kettle), so the rule (:func:`unattended`): under
the routine rule, a ``power`` signal is no sign of life when the home's motion sensor has
seen motion within the last :data:`MOTION_HOME` (it works) but none in the
:data:`UNATTENDED_AFTER` before it. It keeps its device seen; it neither moves the basis,
nor ends an inactivity alert, nor is learned. A home without a motion sensor (a door and a
plug) is unchanged: nothing there can vouch for the plug. A pet's motion vouches for it, as
for anything else a pet does.

Known limit: the sensors adapter reports a PIR's occupancy rising, not its staying on, so a
resident busy in front of one for over an hour (its occupancy never clears) sends no motion
and their kettle counts as unattended; the silence then counts from their last reported
movement, which can make an alert earlier, never later. Reporting occupancy that stays on
(or clears) as presence belongs to the device adapters.

State: :attr:`alerts.state.ResidentState.last_motion_at`, one timestamp.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["MOTION_HOME", "UNATTENDED_AFTER", "judged", "unattended"]

UNATTENDED_AFTER = timedelta(hours=1)
MOTION_HOME = timedelta(days=3)
"""A motion sensor silent this long may be dead or unplugged: the plug counts again."""


def judged(rule: str, source: str, last_motion_at: datetime | None) -> bool:
    """Whether :func:`unattended` can say no to this signal: the routine rule, a power signal,
    a home whose motion sensor has been seen (a batch that folds signals must let such a
    signal through as it came)."""
    return rule == "routine" and source == "power" and last_motion_at is not None


def unattended(rule: str, source: str, at: datetime, last_motion_at: datetime | None) -> bool:
    """Whether a signal at ``at`` is an appliance switching while nobody is seen to move."""
    if not judged(rule, source, last_motion_at):
        return False
    assert last_motion_at is not None  # noqa: S101 - judged() checked it
    quiet = at - last_motion_at
    return UNATTENDED_AFTER < quiet < MOTION_HOME
