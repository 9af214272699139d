"""Command line for the fleet simulator: ``virtual``, ``whatif`` and ``realtime``.

Owns only argument parsing and the printed summaries; the work is in
:mod:`simulators.virtual` and :mod:`simulators.whatif`. A typer app of its own so the hub's
``anbu simulate`` can mount it (``app.add_typer(simulators.cli.app, name="simulate")``).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from alerts.policy import DEFAULT_POLICY
from simulators.virtual import DEFAULT_START, fleet_summary, population, run_fleet
from simulators.whatif import (
    RECIPIENTS,
    SUMMARY_COLUMNS,
    load_policy_file,
    run_whatif,
    summary_rows,
    write_report,
)

_DEFAULT_START = DEFAULT_START.isoformat()

app = typer.Typer(
    help="Fleet simulations: virtual time through the real core, or real time over MQTT."
)

_Households = Annotated[int, typer.Option(min=1, help="number of simulated households")]
_Days = Annotated[int, typer.Option(min=1, max=366, help="days to simulate")]
_Seed = Annotated[int, typer.Option(help="seed: the same seed gives the same figures")]
_Start = Annotated[str, typer.Option(help="first local day (Asia/Seoul), YYYY-MM-DD")]
_Workers = Annotated[int, typer.Option(min=0, help="worker processes; 0 = one per CPU")]


@app.command()
def virtual(
    households: _Households = 100,
    days: _Days = 30,
    seed: _Seed = 1,
    start: _Start = _DEFAULT_START,
    workers: _Workers = 0,
    policy: Annotated[
        Path | None, typer.Option(help="YAML policy overrides; default policy if left out")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    store: Annotated[
        Path | None,
        typer.Option(
            help="run through the hub's ingest and database, SQLite files in this folder"
            " (slower; the bare core otherwise)"
        ),
    ] = None,
) -> None:
    """Run a fleet under one policy and print what the core did."""
    pf = load_policy_file(policy) if policy is not None else None
    began = time.perf_counter()
    fleet = run_fleet(
        population(households, days, seed),
        days,
        seed,
        pf.policy if pf is not None else DEFAULT_POLICY,
        start=date.fromisoformat(start),
        workers=workers or None,
        store=store,
    )
    elapsed = time.perf_counter() - began
    summary = fleet_summary(fleet)
    if json_out:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    typer.echo(
        f"{households} households x {days} days (seed {seed}) in {elapsed:.1f} s: "
        f"{summary['sim_events']} device events, {summary['decide_calls']} core decisions"
    )
    typer.echo("alerts opened: " + _pairs(summary["alerts_opened"]))
    for kind, row in summary["incidents"].items():
        typer.echo(f"  {kind}: {row['detected']}/{row['count']} detected")
    per_100 = 100 * summary["false_alarms"] / fleet.household_months
    typer.echo(f"false alarms: {summary['false_alarms']} ({per_100:.1f} per 100 household-months)")
    typer.echo(f"official pages out of hours: {summary['official_pages_out_of_hours']}")


@app.command()
def whatif(
    policy: Annotated[
        list[Path], typer.Option(help="YAML policy overrides; give it once per policy")
    ],
    out: Annotated[Path, typer.Option(help="directory for whatif.json and whatif.html")],
    households: _Households = 1000,
    days: _Days = 30,
    seed: _Seed = 1,
    start: _Start = _DEFAULT_START,
    workers: _Workers = 0,
    score_from_day: Annotated[
        int, typer.Option(min=1, help="score from this day on; the days before are reported apart")
    ] = 15,
) -> None:
    """Run the same fleet under each policy; write JSON and an HTML page with plots."""
    try:
        files = [load_policy_file(p) for p in policy]
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    began = time.perf_counter()
    report = run_whatif(
        files,
        households,
        days,
        seed,
        date.fromisoformat(start),
        workers=workers or None,
        score_from_day=score_from_day,
    )
    elapsed = time.perf_counter() - began
    json_path, html_path = write_report(report, out)
    typer.echo(f"{len(files)} policies x {households} households x {days} days: {elapsed:.1f} s")
    for row in report["policies"]:
        typer.echo(f"[{row['name']}] all days")
        for kind, inc in row["incidents"].items():
            med, p95 = inc["ttd_median_s"], inc["ttd_p95_s"]
            timing = "" if med is None else f", median {med / 3600:.2f} h, p95 {p95 / 3600:.2f} h"
            typer.echo(f"  {kind}: {inc['detected']}/{inc['count']} detected{timing}")
        fa = row["false_alarms"]["per_100_household_months"]
        typer.echo(
            "  false alarms per 100 household-months: "
            + ", ".join(f"{r} {fa[r]}" for r in RECIPIENTS)
        )
        typer.echo(f"  official pages out of hours: {row['official_pages_out_of_hours']}")
    typer.echo(f"from day {score_from_day} on: " + " | ".join(SUMMARY_COLUMNS))
    for name, mix, cells in summary_rows(report):
        typer.echo(f"  {name:<12} {mix:<14} " + " | ".join(cells))
    typer.echo(f"wrote {json_path} and {html_path}")


@app.command()
def replay(
    roster: Annotated[Path, typer.Option(help="the residents: a roster file (CSV or XLSX)")],
    trace: Annotated[Path, typer.Option(help="the events: JSON Lines, one MQTT message each")],
    out: Annotated[Path, typer.Option(help="JSON with notifications, alerts and check-ins")],
    policy: Annotated[
        Path | None, typer.Option(help="YAML policy overrides; default policy if left out")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="fire due steps up to this RFC 3339 time (default: the last line's)"),
    ] = None,
) -> None:
    """Recorded events through the hub's own ingest, core and tables, in virtual time."""
    from datetime import datetime

    from simulators.replay import replay as run_replay

    try:
        pf = load_policy_file(policy) if policy is not None else None
        end = datetime.fromisoformat(until) if until else None
        if end is not None and end.utcoffset() is None:
            raise ValueError(f"--until needs a time zone offset: {until}")
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    for path in (roster, trace):
        if not path.is_file():
            typer.echo(f"{path}: no such file", err=True)
            raise typer.Exit(2)
    stats = run_replay(
        roster,
        trace,
        out,
        policy=pf.policy if pf is not None else DEFAULT_POLICY,
        overrides=pf.overrides if pf is not None else {},
        until=end,
    )
    typer.echo(
        f"{stats.lines} lines ({stats.delivered} delivered) for {stats.residents} residents"
        f" in {stats.seconds:.1f} s: {stats.rate:,.0f} lines/s"
    )
    for item in stats.roster_errors[:20]:
        typer.echo(f"roster row {item.get('row')}: {item.get('message')}", err=True)
    for item in stats.problems[:50]:
        typer.echo(f"line {item['line']}: {item['reason']}: {item['detail']}", err=True)
    if len(stats.problems) > 50:
        typer.echo(f"... {len(stats.problems) - 50} more problems in {out}", err=True)
    typer.echo(f"wrote {out}")


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


if __name__ == "__main__":
    app()


@app.command()
def realtime(
    url: Annotated[str, typer.Option(help="the hub's broker, mqtt://host:port")],
    households: _Households = 100,
    rate: Annotated[float, typer.Option(min=0.1, help="messages per second, whole fleet")] = 100.0,
    seconds: Annotated[float, typer.Option(min=1, help="how long to publish")] = 30.0,
    seed: _Seed = 1,
    api: Annotated[
        str | None, typer.Option(help="hub API (http://host:port) to register households first")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="ANBU_ADMIN_TOKEN", help="admin token for --api")
    ] = None,
) -> None:
    """N households as real MQTT clients against a running hub, at a fleet-wide rate."""
    from simulators.realtime import FleetFigures, household_ids, register
    from simulators.realtime import run_fleet as run_realtime

    residents = household_ids(households)
    if api is not None:
        if not token:
            typer.echo("--api needs an admin token (--token or ANBU_ADMIN_TOKEN)", err=True)
            raise typer.Exit(2)
        created = register(api, token, residents)
        typer.echo(f"registered {created} new households ({households - created} known)")

    def show(figures: FleetFigures) -> None:
        typer.echo(
            f"\r{figures.seconds:6.1f} s  connected {figures.connected}/{figures.households}"
            f"  sent {figures.published}  acknowledged {figures.acknowledged}"
            f"  {figures.rate:8.1f}/s",
            nl=False,
        )

    figures = run_realtime(url, residents, rate=rate, seconds=seconds, seed=seed, progress=show)
    typer.echo("")
    if figures.connected < households:
        typer.echo(f"only {figures.connected} of {households} households connected", err=True)
        raise typer.Exit(1)
