"""The ``anbu`` command line: one entry point for hub, demo, edge, simulators and benchmarks.

Imports of heavy parts happen inside each command so ``anbu edge`` on a speaker never
loads FastAPI or SQLAlchemy.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, cast

import typer

from hub.cli_db import db_app
from hub.cli_devices import devices_app
from hub.cli_report import report_app
from hub.cli_roster import roster_app
from hub.cli_support import open_database, settings_or_exit, stop_signal
from hub.cli_users import users_app
from hub.cli_watchdog import watchdog

app = typer.Typer(
    name="anbu",
    help="안부 (Anbu): safety monitoring for older people who live alone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
protocol_app = typer.Typer(help="The MQTT wire protocol.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks; figures printed and written as JSON.", no_args_is_help=True
)
export_app = typer.Typer(help="A hub's data for use elsewhere.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")
app.add_typer(bench_app, name="bench")
app.add_typer(export_app, name="export")
app.add_typer(devices_app, name="devices")
app.add_typer(users_app, name="users")
app.add_typer(roster_app, name="roster")
app.add_typer(report_app, name="report")
app.add_typer(db_app, name="db")
app.command("watchdog")(watchdog)

JsonLogs = Annotated[bool, typer.Option("--json-logs", help="Log as JSON lines.")]


def wait_for_stop_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = stop_signal()
    while not stop.wait(0.5):
        pass


@app.command()
def hub(
    json_logs: JsonLogs = False,
    http: Annotated[str | None, typer.Option(help="Overrides ANBU_HTTP (host:port).")] = None,
    db_url: Annotated[str | None, typer.Option(help="Overrides ANBU_DB_URL.")] = None,
    mqtt_url: Annotated[str | None, typer.Option(help="Overrides ANBU_MQTT_URL.")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check the settings, connect to the database and the broker once, and exit "
            "(status 1 and one line per failing part).",
        ),
    ] = False,
) -> None:
    """Run the hub: MQTT ingest, escalation, notifications, HTTP API and status page.

    A settings mistake is one line naming the variable and an accepted example (exit 2);
    a database that does not answer yet is retried with a warning.

    Examples: ``anbu hub``; ``anbu hub --check``; ``anbu hub --http 0.0.0.0:8080``.
    """
    settings = settings_or_exit(
        {"http": http, "db_url": db_url, "mqtt_url": mqtt_url},
        flags={"http": "--http", "db_url": "--db-url", "mqtt_url": "--mqtt-url"},
    )
    from hub.checks import run_checks, wait_for_database

    if check:  # its lines are the output; the libraries' info logs would bury them
        raise typer.Exit(run_checks(settings, typer.echo))
    from hub.logs import configure_logging

    configure_logging(json=json_logs)
    stop = stop_signal()
    if not wait_for_database(settings.db_url, stop):
        return
    from hub.runtime import Hub

    running = Hub(settings).start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()


@app.command()
def demo(
    json_logs: JsonLogs = False,
    http: Annotated[str, typer.Option(help="Where the dashboard listens.")] = "127.0.0.1:8080",
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and SMS log.")
    ] = Path(".anbu-demo"),
) -> None:
    """Everything on one machine: broker, hub, three simulated households, dashboard."""
    from hub.logs import configure_logging
    from simulators.demo import run_demo

    configure_logging(json=json_logs, level="WARNING")
    run_demo(http=http, workdir=workdir)


@protocol_app.command("schema")
def protocol_schema(
    directory: Annotated[Path, typer.Argument(help="Folder to write the JSON Schema files to.")],
) -> None:
    """Write JSON Schema files of every payload for device vendors."""
    from protocol.schema import write_schemas

    for path in write_schemas(directory):
        typer.echo(str(path))


@bench_app.command("ingest")
def bench_ingest(
    events: Annotated[int, typer.Option("--events", "-n", help="Events to publish.")] = 20_000,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-ingest.json"
    ),
    db_url: Annotated[
        str | None, typer.Option(help="Database for the hub under test (default: temp SQLite).")
    ] = None,
    households: Annotated[
        int,
        typer.Option(min=0, help="Real-time fleet: households as MQTT clients (0 = no fleet)."),
    ] = 1000,
    rate: Annotated[
        float, typer.Option(min=1, help="Real-time fleet: messages per second, whole fleet.")
    ] = 2000.0,
    seconds: Annotated[float, typer.Option(min=1, help="Real-time fleet: seconds.")] = 10.0,
    tsdb: Annotated[
        str,
        typer.Option(help="Telemetry sink: off, down (a stopped TSDB) or url (--influx-url)."),
    ] = "off",
    influx_url: Annotated[
        str | None, typer.Option(help="InfluxDB v2 write API for --tsdb url.")
    ] = None,
) -> None:
    """Durable ingest rate through a real broker, emergency latency, the raw broker rate, and
    a real-time fleet of household clients (the load generator of `anbu simulate realtime`)."""
    from simulators.bench import FleetLoad, TsdbMode, run_ingest_bench

    if tsdb not in ("off", "down", "url") or (tsdb == "url") != (influx_url is not None):
        typer.echo("--tsdb is off, down, or url together with --influx-url", err=True)
        raise typer.Exit(2)
    run_ingest_bench(
        events=events,
        output=output,
        db_url=db_url,
        fleet=FleetLoad(households, rate, seconds),
        tsdb=cast(TsdbMode, tsdb),
        influx_url=influx_url,
    )


@bench_app.command("timers")
def bench_timers(
    residents: Annotated[int, typer.Option(min=1, help="Residents due at once.")] = 10_000,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-timers.json"
    ),
    db_url: Annotated[
        str | None, typer.Option(help="Database for the hub under test (default: temp SQLite).")
    ] = None,
    emergencies: Annotated[
        int, typer.Option(min=1, help="Residents kept for emergencies during the storm.")
    ] = 200,
) -> None:
    """A storm of due steps: drain rate, emergency latency during it, RSS per resident."""
    from simulators.bench_timers import run_timers_bench

    run_timers_bench(residents=residents, output=output, db_url=db_url, emergencies=emergencies)


@bench_app.command("edge")
def bench_edge(
    events: Annotated[
        int, typer.Option("--events", "-n", help="Utterances queued while offline.")
    ] = 5_000,
    idle: Annotated[float, typer.Option(help="Seconds of idle to measure CPU over.")] = 20.0,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-edge.json"
    ),
) -> None:
    """Edge agent memory and idle CPU per device kind, outbox intake and replay rates."""
    from simulators.bench_edge import run_edge_bench

    run_edge_bench(events=events, idle_s=idle, output=output)


@bench_app.command("replay")
def bench_replay(
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="Policy YAML to replay under (repeatable)."),
    ] = None,
    households: Annotated[int, typer.Option(help="Households in the recorded trace.")] = 100,
    days: Annotated[int, typer.Option(help="Days the trace covers.")] = 15,
    seed: Annotated[int, typer.Option(help="The simulator's seed for the trace.")] = 1,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-replay.json"
    ),
) -> None:
    """Trace replay rate (lines/s, CPU s) under each policy, on a stored simulator run.

    Example: anbu bench replay --policy simulators/policies/routine.yaml
    """
    from simulators import bench_replay

    policies = policy or [Path(bench_replay.__file__).parent / "policies" / "default.yaml"]
    bench_replay.run_replay_bench(
        policies, output, households=households, days=days, seed=seed, out=typer.echo
    )


@app.command()
def edge(
    config: Annotated[Path, typer.Option("--config", help="The agent's TOML config file.")],
    action: Annotated[
        str | None, typer.Argument(help="check: the installer's view of the home, then exit")
    ] = None,
    device_kind: Annotated[
        str | None, typer.Option("--device-kind", help="speaker, phone or sensors")
    ] = None,
    listen: Annotated[float, typer.Option(help="check: seconds to listen", min=0)] = 5.0,
    json_logs: JsonLogs = False,
) -> None:
    """An edge agent for an AI speaker, a phone or a Zigbee sensor gateway.

    ``anbu edge check --config FILE``: what each sensor last sent, what is missing and
    whether the hub hears the agent, in Korean; exit 1 when the home is not covered.
    """
    if action == "check":
        from edge.check import main as check

        raise typer.Exit(check(config, device_kind, listen))
    if action is not None or device_kind is None:
        typer.echo("anbu edge: --device-kind is required (or: anbu edge check)", err=True)
        raise typer.Exit(2)
    import sys

    # structlog imports rich (for pretty tracebacks) whenever it is installed, and typer
    # installs it: 12 MiB on a speaker for nothing. Plain tracebacks are enough here.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    from hub.logs import configure_logging
    from protocol.vocab import DEVICE_KINDS

    if device_kind not in DEVICE_KINDS:
        typer.echo(
            f"anbu edge: --device-kind must be speaker, phone or sensors, not {device_kind!r}",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging(json=json_logs)
    from edge.cli import run

    raise typer.Exit(run(device_kind, config))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulate(ctx: typer.Context) -> None:
    """Simulated households: real-time fleets, virtual-time runs and policy what-if reports.

    ``anbu simulate --url mqtt://… --households N --rate R`` (real time, the same as
    ``anbu simulate realtime …``), ``anbu simulate virtual …``, ``anbu simulate whatif …``;
    ``anbu simulate --help``.
    """
    # Loaded only when asked for, so `anbu edge` on a speaker never imports the simulator.
    from simulators.cli import app as simulate_app

    args = list(ctx.args)
    if args and args[0].startswith("--") and args[0] != "--help":
        args.insert(0, "realtime")  # options without a mode: households over MQTT, now
    command = typer.main.get_command(simulate_app)
    command.main(args=args, prog_name="anbu simulate", standalone_mode=True)


@export_app.command("trace")
def export_trace(
    out: Annotated[Path, typer.Option(help="the trace file to write (JSON Lines)")],
    start: Annotated[str, typer.Option("--from", help="first instant, RFC 3339 (or a date)")],
    end: Annotated[str, typer.Option("--to", help="end instant, excluded (or a date)")],
    district: Annotated[str | None, typer.Option(help="only this district's residents")] = None,
) -> None:
    """The events a hub received in [--from, --to), as a trace ``anbu simulate replay`` takes.

    Reads the database of ``ANBU_DB_URL``; a bare date means local midnight in ``ANBU_TZ``.
    """
    from hub.trace import export_trace as write_trace

    settings = settings_or_exit()
    try:
        first, last = (_instant(text, settings.tz) for text in (start, end))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    with open_database(settings) as engine, out.open("w", encoding="utf-8") as handle:
        written = write_trace(engine, handle, start=first, end=last, district=district)
    typer.echo(f"wrote {written} lines to {out}")


def _instant(text: str, tz: str) -> datetime:
    """An RFC 3339 instant, or a date meaning local midnight in ``tz``."""
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time or a date: {text!r}") from None
    if value.utcoffset() is None:
        if len(text) != 10:  # a time without an offset would be read in some zone: refuse
            raise ValueError(f"{text!r} needs a time zone offset (or give a bare date)")
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def main() -> None:
    app()
