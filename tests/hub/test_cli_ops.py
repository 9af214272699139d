"""Operator commands: ``anbu db``, ``anbu users``, ``anbu roster import`` and ``anbu report``,
on SQLite and PostgreSQL, through the ``anbu`` CLI itself (typer's runner, in process)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hub.api.auth import token_hash
from hub.cli import app
from hub.roster import read_roster
from hub.store.db import head_revision, migrate, open_engine, reading
from hub.store.users import user_by_token_hash
from protocol.vocab import KOREA_TZ
from tests.conftest import free_port
from tests.hub.support import ADMIN_TOKEN

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "roster-sample.csv"
SAMPLE_DISTRICT = "강남구"
BAD_ROSTER = (
    "id,이름,행정구역,전화,보호자1,보호자1 전화\n"
    "ok-1,김순자,유성구,010-1234-5678,이민수,010-0000-0001\n"
    "bad id!,박영길,유성구,010-1234-5679,,\n"
    "ok-2,이말순,,042-123-4567,,\n"
)


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI with only ANBU_DB_URL set, and ANBU_HTTP where no hub listens."""
    for key in list(os.environ):
        if key.startswith("ANBU_") and key != "ANBU_TEST_NOW":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANBU_DB_URL", db_url)
    monkeypatch.setenv("ANBU_HTTP", f"127.0.0.1:{free_port()}")
    return CliRunner()


@pytest.fixture
def migrated(db_url: str) -> str:
    engine = open_engine(db_url)
    migrate(engine)
    engine.dispose()
    return db_url


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


# ------------------------------------------------------------------------------------ db


def test_db_current_and_upgrade(cli: CliRunner) -> None:
    head = head_revision()
    empty = run(cli, "db", "current")
    assert empty.exit_code == 1
    assert "(empty database)" in empty.output
    assert "anbu db upgrade" in empty.output
    upgraded = run(cli, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"→ {head}" in upgraded.output
    current = run(cli, "db", "current")
    assert current.exit_code == 0
    assert f"current: {head}" in current.output
    again = run(cli, "db", "upgrade")
    assert again.exit_code == 0
    assert f"already at {head}" in again.output


def test_commands_on_an_empty_database_say_to_upgrade_first(cli: CliRunner) -> None:
    result = run(cli, "users", "list")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "anbu db upgrade" in result.output


def test_an_unreachable_database_is_one_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = free_port()
    monkeypatch.setenv(
        "ANBU_DB_URL", f"postgresql+psycopg://postgres:pw-hidden@127.0.0.1:{closed}/x"
    )
    result = run(cli, "db", "current")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"127.0.0.1:{closed}" in result.output
    assert "pw-hidden" not in result.output


# --------------------------------------------------------------------------------- users


def token_in(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_users_add_list_revoke(cli: CliRunner, migrated: str) -> None:
    added = run(cli, "users", "add", "--name", "김관제", "--role", "operator")
    assert added.exit_code == 0, added.output
    token = token_in(added)
    official = run(
        cli, "users", "add", "--name", "박주무관", "--role", "official", "--district", "유성구"
    )
    assert official.exit_code == 0, official.output
    engine = open_engine(migrated)
    try:
        with reading(engine) as conn:
            user = user_by_token_hash(conn, token_hash(token))
        assert user is not None
        assert (user.name, user.role, user.district) == ("김관제", "operator", None)

        listed = run(cli, "users", "list")
        assert listed.exit_code == 0
        assert "김관제" in listed.output
        assert "박주무관" in listed.output
        assert "유성구" in listed.output
        assert token not in listed.output

        revoked = run(cli, "users", "revoke", "1")
        assert revoked.exit_code == 0, revoked.output
        with reading(engine) as conn:
            assert user_by_token_hash(conn, token_hash(token)) is None
        assert "already revoked" in run(cli, "users", "revoke", "1").output
        assert "김관제" not in run(cli, "users", "list").output
        every = [
            json.loads(line)
            for line in run(cli, "users", "list", "--all", "--json").stdout.splitlines()
        ]
        assert [(u["id"], u["revoked_at"] is not None) for u in every] == [(1, True), (2, False)]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--name", "박주무관", "--role", "official"], "--district"),
        (["--name", "누구", "--role", "superuser"], "--role"),
        (["--name", "", "--role", "operator"], "--name"),
    ],
)
def test_users_add_refuses_what_the_api_refuses(
    cli: CliRunner, migrated: str, args: list[str], said: str
) -> None:
    result = run(cli, "users", "add", *args)
    assert result.exit_code == 2
    assert said in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_revoking_nobody_fails(cli: CliRunner, migrated: str) -> None:
    result = run(cli, "users", "revoke", "99")
    assert result.exit_code == 1
    assert "no user 99" in result.output


# -------------------------------------------------------------------------------- roster


def test_roster_dry_run_writes_nothing_and_apply_creates(cli: CliRunner, migrated: str) -> None:
    dry = run(cli, "roster", "import", str(SAMPLE))
    assert dry.exit_code == 0, dry.output
    assert "would create 3" in dry.output
    assert "--apply" in dry.output
    again = run(cli, "roster", "import", str(SAMPLE), "--json")
    assert json.loads(again.stdout)["would_create"]["created"] == 3  # the dry run wrote nothing

    applied = run(cli, "roster", "import", str(SAMPLE), "--apply", "--json")
    assert applied.exit_code == 0, applied.output
    answer = json.loads(applied.stdout)
    assert answer["applied"]["created"] == 3
    assert answer["applied_by"] == "this command"
    assert answer["report"] == read_roster(SAMPLE.read_bytes(), SAMPLE.name).as_dict()

    repeat = run(cli, "roster", "import", str(SAMPLE), "--apply")
    assert repeat.exit_code == 0
    assert "created 0, 3 already registered" in repeat.output


def test_roster_row_errors_are_the_apis_in_korean(
    cli: CliRunner, migrated: str, tmp_path: Path
) -> None:
    roster = tmp_path / "명단.csv"
    roster.write_text(BAD_ROSTER, encoding="utf-8")
    result = run(cli, "roster", "import", str(roster))
    assert result.exit_code == 1
    expected = read_roster(roster.read_bytes(), roster.name)
    assert expected.errors, "the sample must have row errors"
    for error in expected.errors:
        assert f"오류 {error.row}행" in result.output
        assert error.message in result.output
    assert "010-1234-5679" not in result.output  # never a phone number


def test_roster_apply_goes_through_a_running_hub(
    start_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_hub()
    monkeypatch.setenv("ANBU_DB_URL", running.hub.settings.db_url)
    monkeypatch.setenv("ANBU_HTTP", running.hub.settings.http)
    monkeypatch.setenv("ANBU_ADMIN_TOKEN", ADMIN_TOKEN)
    result = CliRunner().invoke(app, ["roster", "import", str(SAMPLE), "--apply", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["applied"]["created"] == 3
    assert answer["applied_by"] == f"the hub at {running.hub.settings.http}"
    # The running hub registered them itself, so its registry knows them.
    resident = running.http.get("/api/v1/residents/gn-0001")
    assert resident.status_code == 200, resident.text
    assert {d["id"] for d in resident.json()["devices"]} == {"spk1", "ph1", "zb1"}


def test_roster_apply_beside_a_running_hub_without_a_token_refuses(
    start_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_hub()
    for key in list(os.environ):
        if key.startswith("ANBU_") and key != "ANBU_TEST_NOW":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANBU_DB_URL", running.hub.settings.db_url)
    monkeypatch.setenv("ANBU_HTTP", running.hub.settings.http)
    result = CliRunner().invoke(app, ["roster", "import", str(SAMPLE), "--apply"])
    assert result.exit_code == 1
    assert "ANBU_ADMIN_TOKEN" in result.output
    assert running.http.get("/api/v1/residents/gn-0001").status_code == 404


# -------------------------------------------------------------------------------- report


def this_month() -> str:
    # The report's period ends now (the suite's moved clock); residents registered now are
    # monitored in the month that contains now.
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(KOREA_TZ)).strftime("%Y-%m")


def test_report_usage_and_outcomes(cli: CliRunner, migrated: str, tmp_path: Path) -> None:
    assert run(cli, "roster", "import", str(SAMPLE), "--apply").exit_code == 0
    month = this_month()
    usage = run(cli, "report", "usage", "--district", SAMPLE_DISTRICT, "--month", month)
    assert usage.exit_code == 0, usage.output
    assert "[이용 현황]" in usage.output
    assert "모니터링 대상자 수(명): 3" in usage.output
    assert "[긴급 대응]" not in usage.output
    csv_out, html_out = tmp_path / "r.csv", tmp_path / "r.html"
    outcomes = run(
        cli,
        "report",
        "outcomes",
        "--district",
        SAMPLE_DISTRICT,
        "--month",
        month,
        "--csv",
        str(csv_out),
        "--html",
        str(html_out),
    )
    assert outcomes.exit_code == 0, outcomes.output
    assert "[처리 결과]" in outcomes.output
    assert "긴급 호출 발생(건): 0" in outcomes.output
    assert "[이용 현황]" not in outcomes.output
    assert csv_out.read_bytes().startswith("\ufeff항목,값".encode())
    assert "모니터링 대상자 수(명),3" in csv_out.read_text(encoding="utf-8-sig")
    assert html_out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_pdf(cli: CliRunner, migrated: str, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = run(
        cli, "report", "usage", "--district", "유성구", "--month", this_month(), "--pdf", str(out)
    )
    if shutil.which("chromium") is None:  # scripts/test.sh installs it; without, a clear line
        assert result.exit_code == 2
        assert "Chromium" in result.output
        return
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")


def test_report_pdf_without_chromium_says_what_to_do(
    cli: CliRunner, migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANBU_CHROMIUM", str(tmp_path / "no-such-browser"))
    result = run(
        cli, "report", "usage", "--district", "유성구", "--month", "2026-11", "--pdf", "x.pdf"
    )
    assert result.exit_code == 2
    assert "--html" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_report_refuses_a_bad_month(cli: CliRunner, migrated: str) -> None:
    result = run(cli, "report", "usage", "--district", "유성구", "--month", "2026-13")
    assert result.exit_code == 2
    assert "--month" in result.output


# ------------------------------------------------------------------------------ --help


@pytest.mark.parametrize(
    "command",
    [
        ["users", "add"],
        ["users", "list"],
        ["users", "revoke"],
        ["roster", "import"],
        ["report", "usage"],
        ["report", "outcomes"],
        ["db", "upgrade"],
        ["db", "current"],
    ],
)
def test_every_operator_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"anbu {' '.join(command)}" in result.output


def test_export_trace_on_an_unreachable_database_is_one_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    closed = free_port()
    monkeypatch.setenv("ANBU_DB_URL", f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x")
    out = tmp_path / "t.jsonl"
    result = run(
        cli, "export", "trace", "--from", "2026-11-01", "--to", "2026-11-02", "--out", str(out)
    )
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"127.0.0.1:{closed}" in result.output
    assert not out.exists()
