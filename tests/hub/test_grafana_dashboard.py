"""The Grafana dashboard queries only what the hub writes (``hub.telemetry_points.SCHEMA``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.telemetry_points import SCHEMA

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "anbu-dashboard.json"
# Columns every Flux table has, besides the tags.
FLUX_COLUMNS = {"_measurement", "_field", "_value", "_time", "_start", "_stop"}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["query"])
        for panel in _panels(_dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def test_every_measurement_field_and_tag_queried_is_written_by_the_hub() -> None:
    queries = _queries()
    assert len(queries) >= 8
    queried: set[str] = set()
    for title, query in queries:
        measurements = re.findall(r'r\._measurement == "([^"]+)"', query)
        fields = re.findall(r'r\._field == "([^"]+)"', query)
        assert len(measurements) == 1, title
        assert fields, title
        (measurement,) = measurements
        assert measurement in SCHEMA, (title, measurement)
        tags, written = SCHEMA[measurement]
        assert set(fields) <= written, (title, set(fields) - written)
        columns = set(re.findall(r"\br\.(\w+)", query))
        for group in re.findall(r"columns: \[([^\]]*)\]", query):
            columns |= set(re.findall(r'"([^"]+)"', group))
        # Columns a query makes itself (map to a new record) are not tags.
        made = set(re.findall(r"(\w+): r\.\w+", query))
        unknown = columns - FLUX_COLUMNS - tags - made
        assert not unknown, (title, unknown)
        queried.add(measurement)
    assert queried == set(SCHEMA), f"not on the dashboard: {set(SCHEMA) - queried}"


def test_the_dashboard_uses_a_flux_datasource_variable_and_the_panels_the_issue_asks_for() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "influxdb"
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert 'from(bucket: "${bucket}")' in target["query"], panel["title"]
    titles = {panel["title"] for panel in _panels(dashboard["panels"])}
    assert "Activity per resident-day" in titles
    assert any("uptime" in title.lower() for title in titles)
    assert "Blood pressure" in titles
    ids = [panel["id"] for panel in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))


def test_the_variables_list_tags_the_hub_writes() -> None:
    variables = [v for v in _dashboard()["templating"]["list"] if v["type"] == "query"]
    assert {v["name"] for v in variables} == {"district", "resident"}
    tags, _ = SCHEMA["activity"]
    for variable in variables:
        (tag,) = re.findall(r'tag: "([^"]+)"', variable["query"])
        assert tag in tags
        assert 'r._measurement == "activity"' in variable["query"]
