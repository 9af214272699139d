"""Moves this Python process's clock by ``ANBU_TEST_OFFSET_S`` seconds (set by scripts/test.sh).

``scripts/test.sh`` puts this folder on ``PYTHONPATH`` for pytest, so Python imports this file
at start-up in pytest and in every Python process the tests start (hubs, agents, the demo, the
benchmarks): they all see the same moved wall clock, one constant offset from the machine's,
while monotonic time, sleeps and timeouts stay real. A test that reads the machine's date
instead of the clock it was given then fails on some runs, with the instant printed to replay.
Processes that are not Python (Mosquitto, VictoriaMetrics, Chromium) keep the machine's clock;
the browser tests install the hub's clock in the page instead.
"""

from __future__ import annotations

import os

_OFFSET = os.environ.get("ANBU_TEST_OFFSET_S")
if _OFFSET:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_OFFSET), tick=True).start()
