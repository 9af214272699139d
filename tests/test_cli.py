"""The ``anbu`` command line: subcommands exist, fail clearly, and write what they promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()


def test_protocol_schema_writes_one_file_per_payload(tmp_path: Path) -> None:
    result = runner.invoke(app, ["protocol", "schema", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert "activity.schema.json" in written
    assert "emergency.schema.json" in written
    schema = json.loads((tmp_path / "schemas" / "emergency.schema.json").read_text())
    assert "trigger" in schema["properties"]


def test_hub_refuses_a_placeholder_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANBU_ADMIN_TOKEN", "changeme")
    result = runner.invoke(app, ["hub"])
    assert result.exit_code == 2
    assert "ANBU_ADMIN_TOKEN" in result.output


def test_hub_refuses_a_malformed_broker_url(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["hub", "--mqtt-url", "http://example"])
    assert result.exit_code == 2
    assert "ANBU_MQTT_URL" in result.output


def test_simulate_offers_virtual_and_whatif() -> None:
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    assert "virtual" in result.output
    assert "whatif" in result.output


def test_simulate_virtual_runs_a_small_fleet() -> None:
    result = runner.invoke(
        app, ["simulate", "virtual", "--households", "5", "--days", "3", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output


def test_edge_refuses_an_unknown_device_kind(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["edge", "--device-kind", "toaster", "--config", str(tmp_path / "x.toml")]
    )
    assert result.exit_code == 2
    assert "speaker, phone or sensors" in result.output


def test_edge_reports_a_missing_config_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["edge", "--device-kind", "speaker", "--config", str(tmp_path / "missing.toml")]
    )
    assert result.exit_code == 2


def test_help_lists_every_interface_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "hub", "edge", "simulate", "bench"):
        assert command in result.output


def test_bench_replay_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "bench-replay.json"
    result = runner.invoke(
        app, ["bench", "replay", "--households", "3", "--days", "2", "--output", str(out)]
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    (run,) = figures["replay"]
    assert run["lines"] == figures["lines"] > 0 and run["lines_per_s"] > 0
