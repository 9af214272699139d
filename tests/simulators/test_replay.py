"""Trace replay: a stored simulator run, exported as a trace and replayed, decides the same.

The stored run goes through the hub's ingest and tables (``simulators.stored``); its events
are exported with ``anbu export trace``'s function, and ``anbu simulate replay`` runs them
through a fresh hub in virtual time. Nobody works an alert in these runs (the trace carries
device messages only, never an operator's click), so the replay must reproduce every alert,
check-in and SMS exactly.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.policy import DEFAULT_POLICY, Policy
from hub.settings import Settings
from hub.store.tables import contacts, devices, residents
from hub.trace import export_trace, replay_output
from simulators.cli import app as simulate_app
from simulators.model import Household, simulate
from simulators.people import Responders
from simulators.replay import replay
from simulators.stored import CENTRE_PHONE, SUPERVISOR_PHONE, run_stored
from simulators.virtual import population

START = date(2026, 11, 16)
SETTINGS = Settings(
    control_center_phones=[CENTRE_PHONE],
    supervisor_phones=[SUPERVISOR_PHONE],
    link_secret=SecretStr("replay-test-link-secret-0123456789"),
)
ROUTINE = DEFAULT_POLICY.with_overrides({"inactivity_rule": "routine", "routine_learning_days": 4})


def quiet_households(count: int, days: int, seed: int, mix: str | None = None) -> list[Household]:
    """Households whose run needs no operator: no call for help, no announced absence."""
    found = []
    for hh in population(count * 8, days, seed):
        if mix is not None and hh.devices != mix:
            continue
        sim = simulate(hh, START, days, seed)
        if any(e.kind == "emergency" for e in sim.events()):
            continue
        if any(g.away_until is not None for g in sim.ground_truth):
            continue
        found.append(hh)
        if len(found) == count:
            break
    return found


def stored_run(tmp_path: Path, fleet: list[Household], days: int, policy: Policy) -> Path:
    db = tmp_path / "stored.db"
    engine = Escalation(WorkingCalendar())
    run_stored(
        fleet,
        START,
        days,
        3,
        policy,
        engine,
        f"sqlite:///{db}",
        Responders(inactivity=False),
        SETTINGS,
    )
    return db


def write_roster(db: Path, path: Path) -> None:
    """The stored hub's residents as a district roster file."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        people = conn.execute(select(residents).order_by(residents.c.id)).all()
        numbers = conn.execute(select(contacts)).all()
        kit = conn.execute(select(devices)).all()
    engine.dispose()
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
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
        for person in people:
            mine = {c.role: c for c in numbers if c.resident_id == person.id}
            out.writerow(
                [
                    person.id,
                    person.name,
                    person.district,
                    mine["guardian"].name,
                    mine["guardian"].phone,
                    mine["official"].name,
                    mine["official"].phone,
                    "; ".join(f"{d.id}:{d.kind}" for d in kit if d.resident_id == person.id),
                ]
            )


def export(db: Path, path: Path) -> int:
    engine = create_engine(f"sqlite:///{db}")
    begin = datetime(2000, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as handle:
        written = export_trace(engine, handle, start=begin, end=begin + timedelta(days=20000))
    engine.dispose()
    return written


def decided(output: dict[str, Any]) -> dict[str, Any]:
    return {key: output[key] for key in ("notifications", "alerts", "checkins")}


def without_links(output: dict[str, Any]) -> dict[str, Any]:
    # A guardian link's token names its row, numbered in the order links were made: a stored
    # run makes them household by household, a replay in time order.
    text = json.dumps(output, ensure_ascii=False)
    return json.loads(re.sub(r"/g/[A-Za-z0-9_.\-]+", "/g/<link>", text))


@pytest.mark.parametrize(
    ("policy", "days"), [(DEFAULT_POLICY, 6), (ROUTINE, 9)], ids=["fixed", "routine"]
)
def test_one_household_s_trace_replays_to_the_same_alerts_and_sms(
    tmp_path: Path, policy: Policy, days: int
) -> None:
    fleet = quiet_households(1, days, 3, "speaker")
    db = stored_run(tmp_path, fleet, days, policy)
    roster, trace, out = tmp_path / "roster.csv", tmp_path / "trace.jsonl", tmp_path / "out.json"
    write_roster(db, roster)
    lines = export(db, trace)
    overrides = {} if policy == DEFAULT_POLICY else {"inactivity_rule": "routine"}
    overrides |= {} if policy == DEFAULT_POLICY else {"routine_learning_days": 4}
    stats = replay(roster, trace, out, policy=policy, overrides=overrides, settings=SETTINGS)
    assert stats.lines == lines > 20
    assert stats.problems == []
    engine = create_engine(f"sqlite:///{db}")
    expected = replay_output(engine)
    engine.dispose()
    got = json.loads(out.read_text(encoding="utf-8"))
    assert expected["alerts"], "the run opened alerts to compare"
    assert decided(got) == expected


def test_a_fleet_s_trace_replays_to_the_same_decisions(tmp_path: Path) -> None:
    fleet = quiet_households(6, 8, 3)
    db = stored_run(tmp_path, fleet, 8, DEFAULT_POLICY)
    roster, trace, out = tmp_path / "roster.csv", tmp_path / "trace.jsonl", tmp_path / "out.json"
    write_roster(db, roster)
    export(db, trace)
    replay(roster, trace, out, policy=DEFAULT_POLICY, overrides={}, settings=SETTINGS)
    engine = create_engine(f"sqlite:///{db}")
    expected = replay_output(engine)
    engine.dispose()
    got = json.loads(out.read_text(encoding="utf-8"))
    assert len({a["resident"] for a in expected["alerts"]}) >= 2
    assert without_links(decided(got)) == without_links(expected)


def test_bad_lines_are_reported_by_number_and_the_rest_replays(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,name,district,guardian1_name,guardian1_phone,devices\n"
        "r1,김순자,동구,아들,010-1111-2222,spk:speaker\n",
        encoding="utf-8",
    )
    t0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)

    def line(kind: str, minutes: int, **body: Any) -> str:
        ts = (t0 + timedelta(minutes=minutes)).isoformat()
        payload = {"v": 1, "id": f"m{minutes}", "ts": ts, **body}
        return json.dumps({"topic": f"anbu/v1/r1/spk/{kind}", "payload": payload})

    trace = tmp_path / "trace.jsonl"
    trace.write_text(
        "\n".join(
            [
                line("activity", 0, source="voice"),
                "{not json",
                json.dumps({"payload": {}}),
                line("activity", 5, source="teleport"),
                json.dumps({"topic": "anbu/v1/r1/spk/activity", "payload": {"v": 1}, "at": "x"}),
                line("heartbeat", 10, interval_s=300),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    topic = "anbu/v1/r1/spk/activity"
    with trace.open("ab") as handle:
        handle.write(b'{"topic": "\xff\xfe"}\n')  # 7: not UTF-8
        far = {"topic": topic, "payload": {}, "at": "0001-01-01T00:00:00+09:00"}
        handle.write(json.dumps(far).encode() + b"\n")  # 8: before what UTC can hold
        handle.write(b'{"topic": "' + topic.encode() + b'", "payload": "\\ud800"}\n')  # 9
        handle.write(b"[" * 100_000 + b"\n")  # 10: nested too deeply

    out = tmp_path / "out.json"
    until = t0 + timedelta(hours=13)
    stats = replay(
        roster, trace, out, policy=DEFAULT_POLICY, overrides={}, settings=SETTINGS, until=until
    )
    assert [(p["line"], p["reason"]) for p in stats.problems] == [
        (2, "not_json"),
        (3, "no_topic"),
        (4, "invalid_payload"),
        (5, "bad_at"),
        (7, "not_utf8"),
        (8, "bad_at"),
        (9, "invalid_payload"),
        (10, "not_json"),
    ]
    got = json.loads(out.read_text(encoding="utf-8"))
    # The good lines went in: the speaker's last heartbeat ran out (monitoring lost), and
    # the silence after 08:00 UTC opened the inactivity alert.
    assert [a["kind"] for a in got["alerts"]] == ["monitoring_lost", "inactivity"]
    assert got["alerts"][1]["opened_at"] == (t0 + timedelta(hours=12)).isoformat()
    assert any(n["role"] == "guardian" for n in got["notifications"])


def test_the_replay_command_prints_its_rate_and_writes_the_output(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,name,district,guardian1_name,guardian1_phone,devices\n"
        "r1,김순자,동구,아들,010-1111-2222,spk:speaker\n",
        encoding="utf-8",
    )
    payload = {"v": 1, "id": "a1", "ts": "2026-11-16T17:00:00+09:00", "source": "voice"}
    trace = tmp_path / "trace.jsonl"
    trace.write_text(json.dumps({"topic": "anbu/v1/r1/spk/activity", "payload": payload}) + "\n")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        simulate_app,
        [
            "replay",
            "--roster",
            str(roster),
            "--trace",
            str(trace),
            "--out",
            str(out),
            "--until",
            "2026-11-17T06:00:00+09:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lines/s" in result.output
    got = json.loads(out.read_text(encoding="utf-8"))
    assert [a["kind"] for a in got["alerts"]] == ["inactivity"]
    missing = CliRunner().invoke(
        simulate_app, ["replay", "--roster", "nope.csv", "--trace", str(trace), "--out", str(out)]
    )
    assert missing.exit_code == 2
    assert "no such file" in missing.output


def test_the_export_command_writes_a_district_s_events_of_a_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli import app as hub_app

    fleet = quiet_households(2, 3, 3)
    db = stored_run(tmp_path, fleet, 3, DEFAULT_POLICY)
    monkeypatch.setenv("ANBU_DB_URL", f"sqlite:///{db}")
    out = tmp_path / "trace.jsonl"
    args = ["export", "trace", "--out", str(out), "--from", "2026-11-17", "--to", "2026-11-18"]
    result = CliRunner().invoke(hub_app, [*args, "--district", "시뮬레이션구"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(text) for text in out.read_text(encoding="utf-8").splitlines()]
    assert lines and f"wrote {len(lines)} lines" in result.output
    kst_day = (datetime(2026, 11, 16, 15, tzinfo=UTC), datetime(2026, 11, 17, 15, tzinfo=UTC))
    assert all(kst_day[0] <= datetime.fromisoformat(n["at"]) < kst_day[1] for n in lines)
    assert {n["topic"].split("/")[2] for n in lines} == {hh.resident for hh in fleet}
    assert all(n["topic"].startswith("anbu/v1/") and "v" in n["payload"] for n in lines)
    other = CliRunner().invoke(hub_app, [*args, "--district", "없는구"])
    assert other.exit_code == 0 and "wrote 0 lines" in other.output
    bad = CliRunner().invoke(
        hub_app, ["export", "trace", "--out", str(out), "--from", "어제", "--to", "2026-11-18"]
    )
    assert bad.exit_code == 2
    assert "not an RFC 3339 time" in bad.output
