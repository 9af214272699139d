"""The hub's time follows the wall clock's rate but not its steps (hub/steady_clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.clock_check import ClockCheck, DeviceClocks
from hub.steady_clock import SLEW, STEP, SteadyClock

START = datetime(2026, 9, 21, 0, 0, tzinfo=UTC)


class Machine:
    """A wall clock that can be stepped and a boot-time clock that cannot."""

    def __init__(self) -> None:
        self.wall = START
        self.boot = 1000.0

    def run(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.boot += seconds

    def step(self, by: timedelta) -> None:
        self.wall += by

    def clock(self) -> SteadyClock:
        return SteadyClock(lambda: self.wall, lambda: self.boot)


def test_without_a_step_it_is_the_wall_clock() -> None:
    machine = Machine()
    clock = machine.clock()
    for _ in range(10):
        machine.run(30)
        machine.step(timedelta(milliseconds=3))  # NTP's slewing: drift, followed
        assert clock.now() == machine.wall
    assert clock.steps == 0 and clock.held == timedelta(0)


def test_a_step_forward_is_not_taken_at_once() -> None:
    """13 h forward: every resident would look 13 h silent at once."""
    machine = Machine()
    clock = machine.clock()
    before = clock.now()
    machine.run(10)
    machine.step(timedelta(hours=13))

    assert before + timedelta(seconds=10) <= clock.now() <= before + timedelta(seconds=10.5)
    assert clock.steps == 1 and clock.last_step == timedelta(hours=13)
    assert clock.held == -timedelta(hours=13) + timedelta(seconds=10 * SLEW)
    assert clock.report()["held_s"] == -13 * 3600 + 10 * SLEW
    # Given back at SLEW: 100 s of real time are 105 s of the hub's.
    at = clock.now()
    machine.run(100)
    assert clock.now() - at == timedelta(seconds=100 * (1 + SLEW))


def test_a_step_back_is_given_back_until_it_is_the_wall_clock_again() -> None:
    machine = Machine()
    clock = machine.clock()
    clock.now()
    machine.step(-timedelta(hours=1))
    assert clock.now() == START, "the hub's time does not go back"
    hours_to_meet = 1 / SLEW
    for _ in range(int(hours_to_meet) + 1):
        machine.run(3600)
        clock.now()
    assert clock.now() == machine.wall
    assert clock.held == timedelta(0)


def test_a_suspend_is_time_that_passed() -> None:
    """The boot-time clock counts a suspend: the wall clock moving with it is no step."""
    machine = Machine()
    clock = machine.clock()
    clock.now()
    machine.run(3 * 3600)
    assert clock.now() == machine.wall
    assert clock.steps == 0


def test_a_small_jump_back_never_moves_the_hub_back() -> None:
    machine = Machine()
    clock = machine.clock()
    first = clock.now()
    machine.step(-STEP / 2)
    assert clock.now() == first
    machine.run(60)
    assert clock.now() > first


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=7200),
            st.integers(min_value=-48 * 3600, max_value=48 * 3600),
        ),
        max_size=30,
    )
)
def test_real_time_is_never_measured_more_than_slew_long_or_short(
    moves: list[tuple[float, int]],
) -> None:
    """Whatever the wall clock does, what the hub measures between two readings is within
    SLEW of the time that really went by (beyond STEP of forward jitter): a silence is never
    stretched into a page, nor a due step held past its time by more than that."""
    machine = Machine()
    clock = machine.clock()
    last = clock.now()
    for seconds, step_s in moves:
        machine.run(seconds)
        machine.step(timedelta(seconds=step_s))
        now = clock.now()
        measured = (now - last).total_seconds()
        assert measured >= 0
        if abs(step_s) > STEP.total_seconds():
            # (1e-5: timedelta keeps microseconds)
            assert seconds * (1 - SLEW) - 1e-5 <= measured <= seconds * (1 + SLEW) + 1e-5
        last = now


def _devices_heard(clocks: DeviceClocks, machine: Machine, hub: SteadyClock, true_of: Any) -> None:
    """Three devices, two live heartbeats each, 300 s apart, stamped by ``true_of(wall)``."""
    for _ in range(2):
        for n in range(3):
            clocks.heard("r", f"d{n}", true_of(machine.wall), hub.now())
        machine.run(300)


def test_a_step_the_devices_confirm_is_taken() -> None:
    """A board without a real-time clock boots on its last shutdown time, then NTP sets it
    8 h forward: real time passed, and the devices (on the right time) say so. Holding the
    step would make every silence look 8 h shorter and page hours late."""
    machine = Machine()
    hub = machine.clock()
    clocks = DeviceClocks(monotonic=lambda: machine.boot)
    check = ClockCheck(clocks, None, hub.now, 300, hub)
    hub.now()
    machine.step(timedelta(hours=8))
    hub.now()
    assert hub.held == -timedelta(hours=8)
    _devices_heard(clocks, machine, hub, lambda wall: wall)

    assert check.confirm_step()

    assert hub.held == timedelta(0)
    assert abs(hub.now() - machine.wall) < timedelta(seconds=1)
    assert clocks.shift() == timedelta(0), "the devices agree with the hub's time again"


def test_a_step_the_devices_do_not_confirm_stays_held() -> None:
    machine = Machine()
    hub = machine.clock()
    clocks = DeviceClocks(monotonic=lambda: machine.boot)
    check = ClockCheck(clocks, None, hub.now, 300, hub)
    hub.now()
    machine.step(timedelta(hours=13))  # the wall clock is wrong; devices keep the right time
    hub.now()
    _devices_heard(clocks, machine, hub, lambda wall: wall - timedelta(hours=13))

    assert not check.confirm_step()
    assert hub.held < -timedelta(hours=12)
