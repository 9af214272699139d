"""What the ``anbu`` commands share: settings loaded or one line per mistake, and a stop signal.

Light on purpose (typer and the standard library at import time): every ``hub/cli*.py``
module imports it, and ``anbu edge`` loads the CLI on a speaker.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = ["settings_or_exit", "stop_signal"]


def settings_or_exit(
    overrides: Mapping[str, Any] | None = None, flags: Mapping[str, str] | None = None
) -> Settings:
    """The hub's settings; on a mistake, one line each on stderr and exit status 2."""
    from hub.settings_errors import InvalidSettingsError, load_settings

    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    try:
        # A flag is named only when it was given: the value came from it, not the variable.
        named = {key: flag for key, flag in (flags or {}).items() if key in given}
        return load_settings(given, flags=named)
    except InvalidSettingsError as problem:
        for line in problem.lines:
            typer.echo(line, err=True)
        raise typer.Exit(2) from None


def stop_signal() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (handlers installed now, in the main thread)."""
    stop = threading.Event()

    def _handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop
