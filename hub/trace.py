"""Trace files: a hub's received events as JSON Lines, and what a replay of them produced.

Owns the trace format of INTERFACES.md (one MQTT message per line,
``{"topic": "anbu/v1/{resident}/{device}/{kind}", "payload": {...}, "at": "RFC 3339"}``, in
delivery order), :func:`export_trace` (``anbu export trace``: the stored events of a period,
ordered as the hub took them in, statuses included) and :func:`replay_output` (the
``notifications``, ``alerts`` and ``checkins`` a run left in a hub's tables, as
``anbu simulate replay`` writes them). Their queries are :mod:`hub.store.trace_reads`; the
replay itself, in virtual time, is :mod:`simulators.replay`.

A notification's ``ts`` is when it was handed to the provider in virtual time: its outbox
row's creation, or the end of a guardian's quiet hours that held it. Its other fields are those
of a ``log:`` SMS line (INTERFACES.md). Nothing here reads a phone number back out except
into the output file the operator asked for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from hub.store import trace_reads
from hub.store.db import Engine, reading
from protocol.topics import device_topic

__all__ = ["export_trace", "replay_output", "trace_line"]


def trace_line(topic: str, payload: object, at: datetime) -> str:
    """One line of a trace file."""
    line = {"topic": topic, "payload": payload, "at": at.astimezone(UTC).isoformat()}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def export_trace(
    engine: Engine,
    out: IO[str],
    *,
    start: datetime,
    end: datetime,
    district: str | None = None,
) -> int:
    """Write the events received in [start, end) (of one district's residents) to ``out``.

    Lines come in the order the hub took the messages in (``received_at``, then its own
    sequence); returns how many were written. A stored payload that is no longer JSON (one
    cut at 8 KiB) is written as the text it is, so the replay reports it as the hub did.
    """
    written = 0
    with reading(engine) as conn:
        for row in trace_reads.received_events(conn, start, end, district):
            topic = device_topic(row.resident_id, row.device_id, row.kind)
            try:
                payload: object = json.loads(row.payload)
            except ValueError:
                payload = row.payload
            out.write(trace_line(topic, payload, row.received_at) + "\n")
            written += 1
    return written


def replay_output(engine: Engine) -> dict[str, Any]:
    """The notifications, alerts and check-ins in a hub's tables, in time order."""
    with reading(engine) as conn:
        sms = trace_reads.sms_sent(conn)
        opened = trace_reads.alerts_opened(conn)
        commands = trace_reads.device_commands(conn)
    notifications = [
        {
            "ts": _iso(_handed_over(row.created_at, row.next_attempt_at)),
            "to": row.recipient,
            "role": row.role,
            "resident": row.resident_id,
            "alert_id": row.alert_id,
            "kind": row.kind,
            "stage": row.stage,
            "body": row.body,
        }
        for row in sms
    ]
    # Time order, whatever order the rows were written in (a stored run writes household by
    # household, a replay in time order).
    notifications.sort(key=lambda n: (n["ts"], n["resident"] or "", n["to"], n["body"]))
    return {
        "notifications": notifications,
        "alerts": [
            {
                "id": row.id,
                "resident": row.resident_id,
                "kind": row.kind,
                "opened_at": _iso(row.opened_at),
                "resolved_at": None if row.resolved_at is None else _iso(row.resolved_at),
                "reason": row.explanation or row.reason,
            }
            for row in opened
        ],
        "checkins": sorted(
            (
                {"resident": row.resident_id, "ts": _iso(row.created_at)}
                for row in commands
                if json.loads(row.body).get("type") == "checkin"
            ),
            key=lambda c: (c["ts"], c["resident"]),
        ),
    }


def write_output(output: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(output, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _handed_over(created: datetime, held_until: datetime | None) -> datetime:
    return created if held_until is None or held_until <= created else held_until


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
