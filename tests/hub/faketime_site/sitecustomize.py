"""Start-up of the hub that ``tests/hub/test_faketime.py`` runs under libfaketime.

First the suite's own clock guard (``tests/clockguard/sitecustomize.py``, named by
``ANBU_CLOCKGUARD_SITE``), so the hub's clock is the suite's moved clock and libfaketime's
offset on top of it. Then ``time.sleep`` on a lock's timeout: the test leaves the monotonic
clock real (``FAKETIME_DONT_FAKE_MONOTONIC=1``; with it faked, Python's lock waits, which
libfaketime 0.9.10 does not intercept, would sleep the whole offset), and libfaketime 0.9.10
then moves the absolute monotonic deadline of ``clock_nanosleep``, which Python's
``time.sleep`` uses, by the offset (EINVAL, or an hour's sleep). Lock waits stay right.
"""

from __future__ import annotations

import os
import runpy
import threading
import time

_GUARD = os.environ.get("ANBU_CLOCKGUARD_SITE")
if _GUARD:
    runpy.run_path(_GUARD)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        threading.Event().wait(seconds)


time.sleep = _sleep
