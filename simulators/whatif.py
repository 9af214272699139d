"""What-if comparison: one simulated fleet, several escalation policies, figures side by side.

Owns the policy files (a YAML mapping of :class:`alerts.policy.Policy` overrides, e.g.
``guardian_after: PT8H``; an empty file is the default policy), the comparison itself
(:func:`run_whatif`: the very same households and incidents from
:func:`simulators.virtual.population` run under every policy) and the report
(:func:`write_report`: ``whatif.json`` and ``whatif.html`` with inline SVG plots).

The JSON (``REPORT_KEYS`` at the top, ``POLICY_KEYS`` per policy) is::

    {"params": {"households", "days", "seed", "start", "household_months"},
     "policies": [{
        "name", "file", "overrides",                # overrides as written in the file
        "incidents": {kind: {"count", "detected", "detection_rate", "under_open_alert",
                             "ttd_median_s", "ttd_p95_s"}},   # null when nothing detected
        "false_alarms": {"alerts", "by_cause",
                         "per_100_household_months": {"guardian", "official",
                                                      "control_center"}},
        "official_pages_out_of_hours",              # must be 0: officials get a digest
        "alerts_opened": {kind: n},
        "decide_calls"}]}

``kind`` is each of :data:`simulators.virtual.DETECTABLE`. Time to detect (seconds) runs from
the incident's start to the first page of a guardian or the control centre about a matching
alert; ``under_open_alert`` counts incidents that began while such an alert was already open
(a false alarm the night before a fall). False alarms are alerts that no incident explains,
or that a benign one does (``by_cause``: ``routine``, ``hospital_stay``,
``phone_left_at_home``), counted once per recipient role told (officials' digests included).

It holds no wall-clock times, so the same seed gives byte-identical JSON.
"""

from __future__ import annotations

import html
import io
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from alerts.policy import DEFAULT_POLICY, Policy
from simulators.model import KST
from simulators.scoring import figures
from simulators.virtual import (
    DEFAULT_START,
    DETECTABLE,
    FleetResult,
    fleet_summary,
    population,
    run_fleet,
)

__all__ = [
    "POLICY_KEYS",
    "RECIPIENTS",
    "REPORT_KEYS",
    "PolicyFile",
    "load_policy_file",
    "render_html",
    "run_whatif",
    "write_report",
]

REPORT_KEYS = ("params", "policies")
POLICY_KEYS = (
    "name",
    "file",
    "overrides",
    "incidents",
    "false_alarms",
    "official_pages_out_of_hours",
    "alerts_opened",
    "decide_calls",
    "learning",
    "scored",
    "by_mix",
)
MIXES = ("speaker", "speaker+phone", "kit", "sensors", "all")
"""Device mixes reported apart (``kit``: a 2G phone with one door sensor and one plug)."""
RECIPIENTS = ("guardian", "official", "control_center")


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """A named set of policy overrides and the validated policy they make."""

    name: str
    file: str | None
    overrides: dict[str, Any]
    policy: Policy


def load_policy_file(path: str | Path) -> PolicyFile:
    """Read a YAML mapping of policy overrides; raises ``ValueError`` naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read policy: {exc}") from exc
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of policy fields, got {type(data).__name__}")
    try:
        policy = DEFAULT_POLICY.with_overrides(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    # Written back as strings so the report shows what the file said ("PT8H"), not timedeltas.
    shown = {str(k): v if isinstance(v, int | float | bool) else str(v) for k, v in data.items()}
    return PolicyFile(path.stem, str(path), shown, policy)


def run_whatif(
    policies: Sequence[PolicyFile],
    households: int,
    days: int,
    seed: int,
    start: date = DEFAULT_START,
    workers: int | None = None,
    score_from_day: int = 15,
) -> dict[str, Any]:
    """Run one fleet under each policy and return the report (see the module docstring).

    ``learning`` covers days 1 to ``score_from_day - 1`` (a routine is being learned),
    ``scored`` and ``by_mix`` the days from ``score_from_day`` on.
    """
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must differ (file stems): {names}")
    fleet = population(households, days, seed)
    rows = []
    for pf in policies:
        result = run_fleet(fleet, days, seed, pf.policy, start=start, workers=workers)
        rows.append(_policy_row(pf, result, score_from_day))
    return {
        "params": {
            "households": households,
            "days": days,
            "seed": seed,
            "start": start.isoformat(),
            "household_months": round(households * days / 30, 3),
            "score_from_day": score_from_day,
        },
        "policies": rows,
    }


def _windows(fleet: FleetResult, score_from_day: int) -> dict[str, Any]:
    """Figures for the learning days, the scored days, and the scored days per device mix."""
    t0 = datetime.combine(fleet.start, time(0), KST)
    split = t0 + timedelta(days=min(max(score_from_day, 1), fleet.days + 1) - 1)
    end = t0 + timedelta(days=fleet.days)
    by_mix = {
        mix: figures([hh for hh in fleet.households if hh.devices == mix], split, end)
        for mix in MIXES
        if any(hh.devices == mix for hh in fleet.households)
    }
    return {
        "learning": figures(fleet.households, t0, split),
        "scored": figures(fleet.households, split, end),
        "by_mix": by_mix,
    }


def _policy_row(pf: PolicyFile, fleet: FleetResult, score_from_day: int) -> dict[str, Any]:
    summary = fleet_summary(fleet)
    ttd: dict[str, list[float]] = {k: [] for k in DETECTABLE}
    counts: dict[str, list[int]] = {k: [0, 0, 0] for k in DETECTABLE}
    for hh in fleet.households:
        for inc in hh.incidents:
            counts[inc.kind][0] += 1
            counts[inc.kind][2] += int(inc.under_open_alert)
            if inc.detected and inc.time_to_detect_s is not None:
                counts[inc.kind][1] += 1
                ttd[inc.kind].append(inc.time_to_detect_s)
    incidents = {
        kind: {
            "count": n,
            "detected": hit,
            "detection_rate": round(hit / n, 4) if n else None,
            "under_open_alert": covered,
            "ttd_median_s": _round(statistics.median(ttd[kind])) if ttd[kind] else None,
            "ttd_p95_s": _round(_percentile(ttd[kind], 0.95)) if ttd[kind] else None,
        }
        for kind, (n, hit, covered) in counts.items()
    }
    per_role = dict.fromkeys(RECIPIENTS, 0)
    by_cause: dict[str, int] = {}
    total = 0
    for hh in fleet.households:
        for alert in hh.false_alarms:
            total += 1
            cause = alert.explained_by or "routine"
            by_cause[cause] = by_cause.get(cause, 0) + 1
            for role in RECIPIENTS:
                per_role[role] += int(role in alert.told)
    months = fleet.household_months
    return {
        "name": pf.name,
        "file": pf.file,
        "overrides": pf.overrides,
        "incidents": incidents,
        "false_alarms": {
            "alerts": total,
            "by_cause": dict(sorted(by_cause.items())),
            "per_100_household_months": {
                role: _round(100 * n / months) if months else None for role, n in per_role.items()
            },
        },
        "official_pages_out_of_hours": summary["official_pages_out_of_hours"],
        "alerts_opened": summary["alerts_opened"],
        "decide_calls": summary["decide_calls"],
        **_windows(fleet, score_from_day),
    }


def _percentile(values: Sequence[float], q: float) -> float:
    # Nearest rank: with a few dozen incidents an interpolated p95 would invent a time
    # no incident actually took.
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _round(x: float) -> float:
    return round(x, 1)


# ------------------------------------------------------------------------------ report


def write_report(report: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``whatif.json`` and ``whatif.html`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "whatif.json"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    html_path = out / "whatif.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


SUMMARY_COLUMNS = (
    "guardian false alarms /100 hm",
    "falls told <= 24 h",
    "fall delay median h",
    "fall delay p90 h",
    "checked median h",
    "night guardian SMS",
    "declines surfaced <= 7 d",
    "false trends /100 hm",
    "emergency delay median s",
    "check-ins /household-day",
)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(policy, mix, cells) for the scored days: overall first, then each device mix."""
    out = []
    for row in report["policies"]:
        for mix, fig in [("overall", row["scored"]), *row["by_mix"].items()]:
            falls, decl = fig["falls"], fig["slow_decline"]
            cells = [
                _cell(fig["false_alarms"]["per_100_household_months"]["guardian"]),
                _cell(falls["told_within_24h_share"], "%"),
                _cell(falls["delay_median_h"]),
                _cell(falls["delay_p90_h"]),
                _cell(falls["checked_median_h"]),
                _cell(fig["night_guardian_sms_share"], "%"),
                f"{decl['surfaced_within_7_days']}/{decl['count']}",
                _cell(fig["false_trends_per_100_household_months"]),
                _cell(fig["emergencies"]["delay_median_s"]),
                _cell(fig["checkins_per_household_day"]),
            ]
            out.append((row["name"], mix, cells))
    return out


def _cell(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page: parameters, a table per measure and three inline SVG plots."""
    params = report["params"]
    rows = report["policies"]
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Anbu what-if</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}th{background:#f4f4f4}"
        "figure{display:inline-block;margin:1em}</style></head><body>",
        "<h1>Escalation policy what-if</h1>",
        f"<p>{params['households']} households &times; {params['days']} days from "
        f"{esc(params['start'])}, seed {params['seed']} "
        f"({params['household_months']} household-months).</p>",
        "<h2>Policies</h2><table><tr><th>policy</th><th>overrides</th></tr>",
    ]
    for row in rows:
        over = ", ".join(f"{k}={v}" for k, v in row["overrides"].items()) or "(default)"
        parts.append(f"<tr><td>{esc(row['name'])}</td><td>{esc(over)}</td></tr>")
    parts.append(
        f"</table><h2>From day {params.get('score_from_day', 1)} on, per device mix</h2>"
        "<table><tr><th>policy</th><th>mix</th>"
        + "".join(f"<th>{esc(c)}</th>" for c in SUMMARY_COLUMNS)
        + "</tr>"
    )
    for name, mix, values in summary_rows(report):
        parts.append(
            f"<tr><td>{esc(name)}</td><td>{esc(mix)}</td>"
            + "".join(f"<td>{esc(c)}</td>" for c in values)
            + "</tr>"
        )
    parts.append("</table><h2>Incidents detected and time to detect</h2><table><tr>")
    parts.append(
        "<th>incident</th><th>policy</th><th>count</th><th>detected</th>"
        "<th>median (h)</th><th>p95 (h)</th></tr>"
    )
    for kind in DETECTABLE:
        for row in rows:
            inc = row["incidents"][kind]
            parts.append(
                f"<tr><td>{kind}</td><td>{esc(row['name'])}</td><td>{inc['count']}</td>"
                f"<td>{inc['detected']}</td><td>{_hours(inc['ttd_median_s'])}</td>"
                f"<td>{_hours(inc['ttd_p95_s'])}</td></tr>"
            )
    parts.append("</table><h2>False alarms per 100 household-months</h2><table><tr>")
    parts.append("<th>policy</th>" + "".join(f"<th>{r}</th>" for r in RECIPIENTS))
    parts.append("<th>alerts</th><th>official pages out of hours</th></tr>")
    for row in rows:
        fa = row["false_alarms"]
        cells = "".join(f"<td>{fa['per_100_household_months'][r]}</td>" for r in RECIPIENTS)
        parts.append(
            f"<tr><td>{esc(row['name'])}</td>{cells}<td>{fa['alerts']}</td>"
            f"<td>{row['official_pages_out_of_hours']}</td></tr>"
        )
    parts.append("</table><h2>Plots</h2>")
    for title, svg in _plots(rows):
        parts.append(f"<figure class='plot'>{svg}<figcaption>{esc(title)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"


def _plots(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    # Imported here: matplotlib is only needed for the HTML page, and Agg must be chosen
    # before pyplot is imported so a headless hub never looks for a display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # SVG element ids are random unless salted; a fixed salt keeps the page reproducible.
    matplotlib.rcParams["svg.hashsalt"] = "anbu-whatif"

    names = [r["name"] for r in rows]
    kinds = list(DETECTABLE)
    width = 0.8 / max(1, len(rows))
    plots = []

    def grouped(ax: Any, groups: list[str], series: list[list[float]], ylabel: str) -> None:
        for i, (name, values) in enumerate(zip(names, series, strict=True)):
            xs = [g + (i - (len(rows) - 1) / 2) * width for g in range(len(groups))]
            ax.bar(xs, values, width, label=name)
        ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.legend()

    fig, ax = plt.subplots(figsize=(7, 4))
    grouped(
        ax,
        kinds,
        [[100 * (r["incidents"][k]["detection_rate"] or 0) for k in kinds] for r in rows],
        "detected (%)",
    )
    plots.append(("Incidents detected (%)", _svg(fig, plt)))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in zip(axes, ("ttd_median_s", "ttd_p95_s"), ("median", "p95"), strict=True):
        grouped(
            ax,
            kinds,
            [[(r["incidents"][k][key] or 0) / 3600 for k in kinds] for r in rows],
            f"time to detect, {label} (h)",
        )
    plots.append(("Time to detect (hours; 0 = none detected)", _svg(fig, plt)))

    fig, ax = plt.subplots(figsize=(7, 4))
    grouped(
        ax,
        list(RECIPIENTS),
        [
            [r["false_alarms"]["per_100_household_months"][role] or 0 for role in RECIPIENTS]
            for r in rows
        ],
        "false alarms per 100 household-months",
    )
    plots.append(("False alarms per recipient", _svg(fig, plt)))
    return plots


def _svg(fig: Any, plt: Any) -> str:
    buf = io.StringIO()
    # No date in the metadata, so the same figures give the same bytes.
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]
