"""What-if reports: same fleet under several policies, documented JSON, HTML with plots, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulators.cli import app
from simulators.virtual import DETECTABLE
from simulators.whatif import (
    POLICY_KEYS,
    RECIPIENTS,
    REPORT_KEYS,
    load_policy_file,
    run_whatif,
    write_report,
)

POLICIES = Path(__file__).resolve().parents[2] / "simulators" / "policies"
DEFAULT = POLICIES / "default.yaml"
EIGHT_HOURS = POLICIES / "guardian-8h.yaml"


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    files = [load_policy_file(DEFAULT), load_policy_file(EIGHT_HOURS)]
    return run_whatif(files, households=60, days=10, seed=3, workers=1)


def test_the_report_has_the_documented_keys(report: dict[str, object]) -> None:
    assert tuple(sorted(report)) == tuple(sorted(REPORT_KEYS))
    params = report["params"]
    assert isinstance(params, dict)
    assert params["households"] == 60 and params["household_months"] == 20
    rows = report["policies"]
    assert isinstance(rows, list)
    assert [r["name"] for r in rows] == ["default", "guardian-8h"]
    assert rows[1]["overrides"] == {"guardian_after": "PT8H", "checkin_after": "PT7H"}
    for row in rows:
        assert set(row) == set(POLICY_KEYS)
        assert set(row["incidents"]) == set(DETECTABLE)
        for figures in row["incidents"].values():
            assert set(figures) == {
                "count",
                "detected",
                "detection_rate",
                "under_open_alert",
                "ttd_median_s",
                "ttd_p95_s",
            }
        assert set(row["false_alarms"]["per_100_household_months"]) == set(RECIPIENTS)
        assert row["official_pages_out_of_hours"] == 0


def test_a_shorter_guardian_stage_tells_guardians_more_often(report: dict[str, object]) -> None:
    rows = report["policies"]
    assert isinstance(rows, list)
    default, faster = (r["false_alarms"]["per_100_household_months"]["guardian"] for r in rows)
    assert faster >= default


def test_the_same_seed_writes_the_same_json_and_html(tmp_path: Path) -> None:
    files = [load_policy_file(DEFAULT), load_policy_file(EIGHT_HOURS)]
    outputs = []
    for n in range(2):
        rep = run_whatif(files, households=15, days=5, seed=7, workers=1)
        json_path, html_path = write_report(rep, tmp_path / str(n))
        outputs.append((json_path.read_text(), html_path.read_text()))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]


def test_the_html_page_embeds_its_plots(report: dict[str, object], tmp_path: Path) -> None:
    _, html_path = write_report(report, tmp_path)
    page = html_path.read_text()
    assert page.count("<figure class='plot'><svg") == 3
    assert "guardian-8h" in page and "Time to detect" in page


def test_a_bad_policy_file_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("guardian_after: PT30H\n")  # after the control centre's 24 h
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_policy_file(bad)
    (tmp_path / "typo.yaml").write_text("guardian_afer: PT8H\n")
    with pytest.raises(ValueError, match="unknown policy field"):
        load_policy_file(tmp_path / "typo.yaml")


def test_the_cli_runs_both_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["whatif", "--policy", str(DEFAULT), "--policy", str(EIGHT_HOURS)]
    args += ["--households", "10", "--days", "3", "--seed", "1", "--workers", "1"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "official pages out of hours: 0" in result.output
    assert json.loads((out / "whatif.json").read_text())["params"]["households"] == 10
    assert (out / "whatif.html").exists()

    result = runner.invoke(
        app, ["virtual", "--households", "5", "--days", "2", "--seed", "1", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "5 households x 2 days" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("nope: 1\n")
    result = runner.invoke(app, ["whatif", "--policy", str(bad), "--out", str(out)])
    assert result.exit_code == 2
