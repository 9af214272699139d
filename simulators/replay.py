"""Trace replay: recorded events through the hub's own ingest, core and tables in virtual time.

Owns ``anbu simulate replay --roster R --trace T [--policy P] --out O``: the district's roster
(the import format the hub takes) is registered at the first line's time, under policy ``P``;
then every line of the trace (:mod:`hub.trace`) is delivered to :class:`hub.service.HubCore`
at its ``at`` (or its payload's ``ts``), and every step that falls due in between fires at its
own time, as the ingest worker would fire it. What the hub decided is read back from its
tables (:func:`hub.trace.replay_output`). Nobody answers a check-in unless the trace does.

Bad lines (not JSON, no topic, a bad ``at``) are reported with their line number and skipped;
lines the hub itself refuses (bad payloads, unknown devices) are reported too and go on to the
hub, which keeps them as dead letters, as it would. Nothing else is inferred.

Speed: lines go to the hub in batches of up to :data:`BATCH` messages, each message at its
own time, with every resident's due steps fired at their own time before that resident's
next line (:class:`_Schedule`), so a batch decides exactly what one-by-one delivery would.
Each line is parsed once, here, and ingest takes it so parsed (it would parse it again at
the same time). The database is a throwaway SQLite file that need not survive a power cut.
"""

from __future__ import annotations

import gc
import itertools
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.policy import Policy
from hub.mqtt import Incoming
from hub.roster import RosterRow, apply_roster, read_roster
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.trace import replay_output
from protocol import Event, Rejection, parse
from protocol.topics import TopicError, parse_topic

__all__ = ["BATCH", "ReplayStats", "replay"]

BATCH = 5000
# An emergency goes in a transaction of its own, as the hub takes a call for help. A status
# need not: where a batch ends changes no decision's order (each resident's steps fire
# before that resident's next line, digests at their catch-up), and every batch costs a
# state copy, load and save per resident in it.
_ALONE = frozenset({"emergency"})
# Numbers for the control centre and its supervisor when the settings give none, so their
# pages show in the output like everyone else's.
STANDIN_CENTRE = "+8220000000"
STANDIN_SUPERVISOR = "+8220000001"


@dataclass
class ReplayStats:
    """What a replay did: lines read, problems by line, and how fast."""

    lines: int = 0
    delivered: int = 0
    residents: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    roster_errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    message: Incoming
    at: datetime
    kind: str
    resident: str | None
    parsed: Event | Rejection
    """The message as the hub parses it at ``at``: read once, handed on to ingest."""


class _ReplayCore(HubCore):
    """The hub's core, handed each line as the replay parsed it (it reads every line)."""

    def ingest_parsed(
        self, batch: list[Incoming], parsed: list[Event | Rejection], now: datetime
    ) -> None:
        self._intake.ingest(batch, now, due_first=True, parsed=parsed)


def replay(
    roster: Path,
    trace: Path,
    out: Path,
    *,
    policy: Policy,
    overrides: dict[str, Any],
    settings: Settings | None = None,
    until: datetime | None = None,
    workdir: Path | None = None,
) -> ReplayStats:
    """Replay ``trace`` for the residents of ``roster``; write the output JSON to ``out``.

    ``overrides`` is ``policy`` as written in its file (every resident gets it). ``until``:
    fire due steps up to this virtual time after the last line (default: the last line's).
    """
    del policy  # validated by the caller; residents are registered with its overrides
    with _fewer_collections():
        return _replay(roster, trace, out, overrides, settings, until, workdir)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector less often, for the replay's length.

    A replay makes a few objects per line that live until its batch ends (messages, parsed
    events, rows); with the default thresholds the collector ran through everything alive,
    the modules included, every few hundred lines: about a tenth of the replay's time. What
    lived before the replay is set aside (``gc.freeze``) and the youngest generation is
    collected every 50,000 allocations instead of 700; both are put back at the end.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _replay(
    roster: Path,
    trace: Path,
    out: Path,
    overrides: dict[str, Any],
    settings: Settings | None,
    until: datetime | None,
    workdir: Path | None,
) -> ReplayStats:
    stats = ReplayStats()
    began = time.perf_counter()
    settings = _with_standins(settings or Settings())
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        db = open_engine(f"sqlite:///{Path(tmp) / 'replay.db'}")
        event.listen(db, "connect", _throwaway)
        migrate(db)
        calendar = WorkingCalendar(tz=settings.tz)
        core = _ReplayCore(db, Escalation(calendar), settings)
        lines = _lines(trace, stats)
        first = next(lines, None)
        if first is not None:
            _register(core, roster, overrides, first.at, stats)
            _deliver(core, calendar, itertools.chain([first], lines), stats, until)
        output = replay_output(db)
        db.dispose()
    output["problems"] = stats.problems
    output["roster_errors"] = stats.roster_errors
    out.write_text(json.dumps(output, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    stats.seconds = time.perf_counter() - began
    return stats


def _throwaway(dbapi_connection: Any, _record: object) -> None:
    # A replay's database is rebuilt from the trace: it need not survive a power cut.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _with_standins(settings: Settings) -> Settings:
    update: dict[str, Any] = {}
    if not settings.control_center_phones:
        update["control_center_phones"] = [STANDIN_CENTRE]
    if not settings.supervisor_phones:
        update["supervisor_phones"] = [STANDIN_SUPERVISOR]
    return settings.model_copy(update=update)


def _register(
    core: _ReplayCore, roster: Path, overrides: dict[str, Any], at: datetime, stats: ReplayStats
) -> None:
    report = read_roster(roster.read_bytes(), roster.name)
    stats.roster_errors = [e.as_dict() for e in report.errors]
    rows = [
        RosterRow(r.row, {**r.resident, "policy": dict(overrides)}, r.contacts, r.devices)
        for r in report.valid
    ]
    result = apply_roster(type(report)(report.rows, rows, report.errors), core, at)
    stats.residents = int(result["created"])
    stats.roster_errors += result["failures"]


def _lines(trace: Path, stats: ReplayStats) -> Iterator[_Line]:
    """The trace's deliverable lines; every problem goes into ``stats.problems``."""
    previous: datetime | None = None
    mids = itertools.count(1)
    with trace.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            stats.lines += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                stats.problems.append(
                    {"line": number, "reason": "not_utf8", "detail": f"not UTF-8 text: {exc}"}
                )
                continue
            line = _line(number, text, next(mids), previous, stats)
            if line is None:
                continue
            previous = line.at
            yield line


def _line(
    number: int, text: str, mid: int, previous: datetime | None, stats: ReplayStats
) -> _Line | None:
    def problem(reason: str, detail: str) -> None:
        stats.problems.append({"line": number, "reason": reason, "detail": detail})

    data, error = _read_json(text)
    if error is not None:
        problem("not_json", error)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("topic"), str):
        problem("no_topic", "a line needs a topic (string) and a payload")
        return None
    if "payload" not in data:
        problem("no_payload", "a line needs a payload")
        return None
    payload = data["payload"]
    try:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    except (UnicodeEncodeError, RecursionError, ValueError) as exc:
        problem("invalid_payload", f"the payload cannot be sent as MQTT bytes: {exc}")
        return None
    at = _when(data.get("at"), payload)
    if at is None:
        problem("bad_at", "at (or the payload's ts) must be RFC 3339 with an offset")
        return None
    late = previous is not None and at < previous
    if previous is not None and late:
        at = previous  # delivered after the line above, and so judged by the hub
    topic = data["topic"]
    checked = parse(topic, raw, now=at)
    kind, resident = "", None
    if isinstance(checked, Event):
        kind, resident = checked.kind, checked.resident  # parse read the topic already
    else:
        problem(checked.reason, checked.detail)  # the hub keeps it as a dead letter too
        route = parse_topic(topic)
        if not isinstance(route, TopicError):
            kind, resident = route.kind, route.resident
    if late:
        problem("out_of_order", "at before the line above")
    message = Incoming(topic, raw, mid, 1, kind == "status", 1, at)
    return _Line(number, message, at, kind, resident, checked)


def _read_json(text: str) -> tuple[object, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not a JSON object: {exc.msg}"
    except RecursionError:
        return None, "nested too deeply to read"


def _when(value: object, payload: object) -> datetime | None:
    if value is None and isinstance(payload, dict):
        value = payload.get("ts")
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
        return at.astimezone(UTC) if at.utcoffset() is not None else None
    except (ValueError, OverflowError):  # not a time, or one outside what UTC can hold
        return None


class _Schedule:
    """Delivers lines in batches while every resident's due steps fire at their own time.

    Residents are independent, so each one's steps only need to fire before that resident's
    next line, and the hub does that inside the batch (``HubCore.ingest(due_first=True)``).
    Digests gather every resident's items, so before one falls due every step before it
    fires, for everyone; and a batch never spans a working-day start, the only time a digest
    queued inside it could fall due.
    """

    def __init__(self, core: _ReplayCore, calendar: WorkingCalendar, stats: ReplayStats) -> None:
        self.core = core
        self.calendar = calendar
        self.stats = stats
        self.batch: list[Incoming] = []
        self.parsed: list[Event | Rejection] = []
        self.in_batch: set[str] = set()
        self.boundary: datetime | None = None
        self.due: dict[str, datetime | None] = core.due_of(core.resident_ids())
        self.digest = core.next_digest()
        self.last: datetime | None = None

    def take(self, line: _Line) -> None:
        if self.boundary is not None and line.at >= self.boundary:
            self.flush()  # first: a step fired in the batch may have queued a digest
        if self.digest is not None and self.digest < line.at:
            self.catch_up(self.digest)
        if self.boundary is None:
            self.boundary = self._next_opening(line.at)
        if line.resident is not None:
            self.in_batch.add(line.resident)
        self.batch.append(line.message)
        self.parsed.append(line.parsed)
        self.last = line.at
        if line.kind in _ALONE or len(self.batch) >= BATCH:
            self.flush()

    def _next_opening(self, at: datetime) -> datetime:
        """The first working-day start after ``at``."""
        opening = self.calendar.next_working_start(at)
        if opening > at:
            return opening
        local = at.astimezone(self.calendar.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        return self.calendar.next_working_start(midnight)

    def flush(self) -> None:
        self.boundary = None
        if not self.batch or self.last is None:
            return
        self.core.ingest_parsed(self.batch, self.parsed, self.last)
        self.stats.delivered += len(self.batch)
        self.due.update(self.core.due_of(self.in_batch))
        self.digest = self.core.next_digest()
        self.batch.clear()
        self.parsed.clear()
        self.in_batch.clear()

    def catch_up(self, until: datetime) -> None:
        """Every step due up to ``until``, everyone's, in time order, digests included."""
        self.flush()
        while True:
            pending = [(t, r) for r, t in self.due.items() if t is not None and t <= until]
            nearest = min((t for t, _ in pending), default=None)
            if self.digest is not None and self.digest <= until:
                nearest = self.digest if nearest is None else min(nearest, self.digest)
            if nearest is None:
                return
            self.core.run_due(nearest)
            self.due = self.core.due_of(self.due)
            self.digest = self.core.next_digest()


def _deliver(
    core: _ReplayCore,
    calendar: WorkingCalendar,
    lines: Iterator[_Line],
    stats: ReplayStats,
    until: datetime | None,
) -> None:
    schedule = _Schedule(core, calendar, stats)
    for line in lines:
        schedule.take(line)
    schedule.flush()
    end = until or schedule.last
    if end is not None:
        schedule.catch_up(end)
