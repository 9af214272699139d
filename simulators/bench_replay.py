"""The replay benchmark: how fast a district's trace replays through the hub, by policy.

Owns :func:`run_replay_bench`. A stored simulator run (:mod:`simulators.stored`, the hub's
own ingest and tables) of households nobody has to answer (no call for help, no announced
absence: a trace carries device messages only, never an operator's click) is exported with
the hub's own export (:func:`hub.trace.export_trace`), its residents written as a roster in
the import format, and the trace replayed (:func:`simulators.replay.replay`) under each policy
file given. The figures are the replay's own rate, lines per second of wall time as ``anbu
simulate replay`` prints it, and the CPU time the replay took (the wall-clock rate of a
machine shared with other work says less). Building the trace is not timed.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.policy import DEFAULT_POLICY
from hub.settings import Settings
from hub.store.db import open_engine
from hub.trace import export_trace
from simulators.model import DEVICE_MIXES, Household, simulate
from simulators.people import Responders
from simulators.replay import replay
from simulators.stored import (
    CENTRE_PHONE,
    GUARDIAN_PHONE,
    OFFICIAL_PHONE,
    SUPERVISOR_PHONE,
    run_stored,
)
from simulators.virtual import DEFAULT_START, population
from simulators.whatif import load_policy_file

__all__ = ["quiet_households", "run_replay_bench"]

Out = Callable[[str], None]


def quiet_households(count: int, days: int, seed: int, start: date) -> list[Household]:
    """Up to ``count`` households whose run needs nobody to answer anything."""
    found: list[Household] = []
    for household in population(count * 8, days, seed):
        sim = simulate(household, start, days, seed)
        if any(e.kind == "emergency" for e in sim.events()):
            continue
        if any(g.away_until is not None for g in sim.ground_truth):
            continue
        found.append(household)
        if len(found) == count:
            break
    return found


def run_replay_bench(
    policies: Sequence[Path],
    output: Path,
    *,
    households: int = 100,
    days: int = 15,
    seed: int = 1,
    start: date = DEFAULT_START,
    out: Out | None = None,
) -> dict[str, Any]:
    """Build the trace, replay it under each policy; return and write the figures."""
    say: Out = out if out is not None else (lambda _text: None)
    files = [load_policy_file(path) for path in policies]
    settings = Settings(control_center_phones=[CENTRE_PHONE], supervisor_phones=[SUPERVISOR_PHONE])
    fleet = quiet_households(households, days, seed, start)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="anbu-bench-replay-") as tmp:
        work = Path(tmp)
        db_url = f"sqlite:///{work / 'stored.db'}"
        # The trace is what a hub under the first policy took in (its check-in answers too).
        recorded = files[0].policy if files else DEFAULT_POLICY
        engine = Escalation(WorkingCalendar())
        # Nobody works an alert: a trace carries no operator's click, so the replay decides alike.
        nobody = Responders(inactivity=False)
        run_stored(fleet, start, days, seed, recorded, engine, db_url, nobody, settings)
        roster, trace = work / "roster.csv", work / "trace.jsonl"
        _write_roster(fleet, roster)
        stored = open_engine(db_url)
        try:
            with trace.open("w", encoding="utf-8") as handle:
                begin = datetime(2000, 1, 1, tzinfo=UTC)
                lines = export_trace(stored, handle, start=begin, end=begin + timedelta(days=20000))
        finally:
            stored.dispose()
        say(f"trace: {lines} lines of {len(fleet)} households x {days} days")
        for policy in files:
            began = time.process_time()
            stats = replay(
                roster,
                trace,
                work / "replayed.json",
                policy=policy.policy,
                overrides=policy.overrides,
                settings=settings,
                workdir=work,
            )
            cpu = time.process_time() - began
            runs.append(
                {
                    "policy": policy.name,
                    "lines": stats.lines,
                    "lines_per_s": round(stats.rate, 1),
                    "seconds": round(stats.seconds, 2),
                    "cpu_s": round(cpu, 2),
                    "lines_per_cpu_s": round(stats.lines / cpu, 1) if cpu > 0 else None,
                    "problems": len(stats.problems),
                }
            )
            say(f"{policy.name}: {stats.rate:,.0f} lines/s ({cpu:.1f} s CPU)")
    result = {
        "households": len(fleet),
        "days": days,
        "seed": seed,
        "lines": lines,
        "replay": runs,
        "machine": {"cpus": os.cpu_count()},
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n", encoding="utf-8")
    say(text)
    return result


def _write_roster(fleet: Sequence[Household], path: Path) -> None:
    """The stored run's residents (:mod:`simulators.stored` registers them so) as a roster."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(
            [
                "id",
                "name",
                "district",
                "guardian1_name",
                "guardian1_phone",
                "official_name",
                "official_phone",
                "devices",
            ]
        )
        for household in sorted(fleet, key=lambda h: h.resident):
            devices = "; ".join(f"{d}:{d}" for d in DEVICE_MIXES[household.devices])
            rows.writerow(
                [
                    household.resident,
                    "시뮬레이션",
                    "시뮬레이션구",
                    "보호자",
                    GUARDIAN_PHONE,
                    "담당 공무원",
                    OFFICIAL_PHONE,
                    devices,
                ]
            )
