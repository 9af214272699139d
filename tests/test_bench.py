"""`anbu bench ingest` on a small run: the JSON has every figure, and they make sense."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.broker import find_mosquitto
from simulators.bench import FleetLoad, _percentile, run_ingest_bench

# Timing is part of what this checks: it runs alone, after the parallel part of the suite
# (scripts/test.sh), so other tests' load cannot fail it.
pytestmark = pytest.mark.serial

EVENTS = 2000
EMERGENCIES = 20


@pytest.fixture(autouse=True)
def _needs_mosquitto() -> None:
    if find_mosquitto() is None:
        pytest.fail("the ingest benchmark needs mosquitto installed", pytrace=False)


def test_small_ingest_bench(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "out" / "bench.json"
    result = run_ingest_bench(
        EVENTS,
        output,
        None,
        emergencies=EMERGENCIES,
        residents=20,
        fleet=FleetLoad(households=60, rate=300, seconds=2),
        tsdb="down",
        out=lines.append,
    )

    assert json.loads(output.read_text(encoding="utf-8")) == result
    assert result["events"] == EVENTS
    assert result["db"] == "sqlite"
    assert result["machine"]["cpus"] >= 1
    for key in ("hub_events_per_s", "raw_events_per_s", "hub_raw_ratio"):
        assert result[key] > 0, key
    # The hub rides on the same broker, so it cannot be much faster than the broker alone.
    assert result["hub_raw_ratio"] <= 1.5
    latency = result["emergency_latency_ms"]
    assert latency["count"] == EMERGENCIES
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    # The real-time fleet: every household connected, everything it sent was committed.
    fleet = result["fleet"]
    assert fleet["households"] == fleet["connected"] == 60
    assert fleet["stored"] == fleet["acknowledged"] == fleet["published"] >= 300
    assert 0 < fleet["committed_per_s"] <= fleet["acknowledged_per_s"] * 1.05
    assert result["tsdb"] == "down"
    # Printed for people as well: progress and the JSON itself.
    assert any("hub durable ingest" in line for line in lines)
    assert json.loads(next(x for x in lines if x.startswith("{"))) == result


def test_cli_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "bench-ingest.json"
    script = Path(sys.executable).with_name("anbu")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from hub.cli import main; main()"]
    )
    done = subprocess.run(
        [
            *command,
            *("bench", "ingest", "--events", "500", "--output", str(output)),
            *("--households", "20", "--rate", "100", "--seconds", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(output.read_text(encoding="utf-8"))
    assert set(figures) >= {
        "events",
        "hub_events_per_s",
        "raw_events_per_s",
        "hub_raw_ratio",
        "emergency_latency_ms",
        "db",
        "machine",
    }
    assert set(figures["emergency_latency_ms"]) >= {"p50", "p99"}
    assert figures["events"] == 500
    assert figures["fleet"]["households"] == 20
    assert '"hub_events_per_s"' in done.stdout


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _percentile(values, 50) == 50.0
    assert _percentile(values, 99) == 99.0
    assert _percentile([5.0], 99) == 5.0


def test_rejects_empty_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        run_ingest_bench(0, tmp_path / "x.json", None)


def test_tsdb_url_mode_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="influx_url"):
        run_ingest_bench(10, tmp_path / "x.json", None, tsdb="url")
    with pytest.raises(ValueError, match="influx_url"):
        run_ingest_bench(10, tmp_path / "x.json", None, influx_url="http://127.0.0.1:1")
