"""``anbu watchdog``: the command that runs :mod:`hub.watchdog`, settings from ``ANBU_WATCHDOG_*``.

A settings mistake is one line per variable naming what was wrong, never its value (phone
numbers, the SMS provider's secret, the broker's password), and exit status 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli_support import stop_signal

__all__ = ["watchdog"]


def watchdog(
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log as JSON lines.")] = False,
) -> None:
    """Follow a hub from another machine; page the control centre and the supervisor when
    the hub, its database or its broker has not been healthy for ANBU_WATCHDOG_DOWN_AFTER,
    and once more when it recovers.

    Example: ``ANBU_WATCHDOG_HUB_URL=http://hub.local:8080
    ANBU_WATCHDOG_CONTROL_CENTER_PHONES='["02-1234-5678"]' anbu watchdog``.
    """
    from pydantic import ValidationError

    from hub.logs import configure_logging
    from hub.watchdog_settings import WatchdogSettings

    try:
        settings = WatchdogSettings()
    except ValidationError as problem:
        for error in problem.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            where = f"ANBU_WATCHDOG_{name}" if name else "ANBU_WATCHDOG_*"
            typer.echo(f"설정 오류 (settings error) {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    from hub.watchdog import Watchdog

    try:
        running = Watchdog(settings)
    except (OSError, ValueError, KeyError, TypeError) as error:
        # The state file (or the SMS spec): starting afresh could page an outage twice.
        typer.echo(f"시작할 수 없습니다 (cannot start): {type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None
    configure_logging(json=json_logs)
    running.run(stop_signal())
