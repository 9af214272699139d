"""`anbu bench edge` on a small run: every figure is there and plausible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.bench_edge import run_edge_bench

# Timing is part of what this checks: it runs alone, after the parallel part of the suite
# (scripts/test.sh), so other tests' load cannot fail it.
pytestmark = pytest.mark.serial


def test_small_edge_bench(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "bench-edge.json"
    result = run_edge_bench(events=500, idle_s=1.0, output=output, out=lines.append)

    assert json.loads(output.read_text(encoding="utf-8")) == result
    kinds = {figure["kind"]: figure for figure in result["footprint"]}
    assert set(kinds) == {"speaker", "phone", "sensors"}
    for figure in kinds.values():
        assert 5 < figure["rss_mib"] < 200  # a Python process, far from a hub's footprint
        assert 0 <= figure["idle_cpu_pct"] < 25
    replay = result["replay"]
    assert replay["signals"] == 500
    assert replay["queued_messages"] > 400  # hardly any folding with a 1 µs window
    assert replay["replay_per_s"] > 0
    assert replay["intake_per_s"] > 0
    assert any("replayed" in line for line in lines)
