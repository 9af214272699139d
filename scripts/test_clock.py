"""Where the test suite's clock stands: the guard against tests that read today's date.

``scripts/test.sh`` runs pytest with the wall clock of every Python process of the run (pytest
and the hubs, agents and demos it starts) moved by one constant offset
(``tests/clockguard/sitecustomize.py``), so a test that quietly depends on the machine's date
or the hour in Korea fails on some runs instead of on some calendar days, and the instant is
printed to replay it. This script picks the instant and prints the shell assignments for it.

``ANBU_TEST_NOW`` chooses:

* unset or ``random``: an instant drawn uniformly from the 400 days either side of now, to
  the second, so over many runs every hour, weekday and holiday comes up;
* an RFC 3339 instant (``2026-12-06T03:00:00+09:00``): replays that one;
* ``off``: the machine's own clock.

Output (for ``eval``): ``ANBU_TEST_NOW=…`` (what to set to replay) and
``ANBU_TEST_OFFSET_S=…`` (seconds to add to the machine's clock; empty when off).
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SPREAD = timedelta(days=400)
KST = ZoneInfo("Asia/Seoul")


def choose(spec: str, now: datetime) -> datetime | None:
    """The instant ``spec`` names, relative to ``now`` for ``random``; None for ``off``."""
    spec = spec.strip()
    if spec == "off":
        return None
    if spec in {"", "random"}:
        span = int(SPREAD.total_seconds())
        seconds = random.SystemRandom().randint(-span, span)
        return (now + timedelta(seconds=seconds)).replace(microsecond=0)
    try:
        instant = datetime.fromisoformat(spec)
    except ValueError:
        msg = f"ANBU_TEST_NOW must be 'random', 'off' or RFC 3339, not {spec!r}"
        raise SystemExit(msg) from None
    if instant.utcoffset() is None:
        raise SystemExit(f"ANBU_TEST_NOW needs a time zone offset: {spec!r}")
    return instant


def main() -> None:
    now = datetime.now(UTC)
    instant = choose(os.environ.get("ANBU_TEST_NOW", ""), now)
    if instant is None:
        sys.stdout.write("ANBU_TEST_NOW=off\nANBU_TEST_OFFSET_S=\n")
        return
    offset = round((instant - now).total_seconds())
    local = instant.astimezone(KST)
    sys.stdout.write(
        f"ANBU_TEST_NOW={local.isoformat()}\n"
        f"ANBU_TEST_OFFSET_S={offset:+d}\n"
        f"ANBU_TEST_NOW_SAYS='{local:%A %Y-%m-%d %H:%M} in Korea'\n"
    )


if __name__ == "__main__":
    main()
