"""The replay benchmark: a stored run's trace replayed under each policy, figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from simulators.bench_replay import run_replay_bench

POLICIES = Path(__file__).resolve().parents[2] / "simulators" / "policies"


def test_the_replay_bench_replays_one_trace_under_each_policy(tmp_path: Path) -> None:
    said: list[str] = []
    output = tmp_path / "bench-replay.json"
    result = run_replay_bench(
        [POLICIES / "default.yaml", POLICIES / "routine.yaml"],
        output,
        households=2,
        days=3,
        out=said.append,
    )
    assert result == json.loads(output.read_text(encoding="utf-8"))
    assert result["households"] == 2 and result["lines"] > 20
    assert [run["policy"] for run in result["replay"]] == ["default", "routine"]
    for run in result["replay"]:
        # Every line of the trace went in and none was refused: the roster is the run's own.
        assert run["lines"] == result["lines"] and run["problems"] == 0
        assert run["lines_per_s"] > 0 and run["cpu_s"] > 0
    assert any("lines/s" in line for line in said)
