"""What the ``anbu`` commands share: settings loaded or one line per mistake, and a stop signal.

Light on purpose (typer and the standard library at import time): every ``hub/cli*.py``
module imports it, and ``anbu edge`` loads the CLI on a speaker.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hub.settings import Settings
    from hub.store.db import Engine

__all__ = ["fail", "open_database", "settings_or_exit", "stop_signal"]


def fail(line: str, status: int = 1) -> typer.Exit:
    """Print ``line`` on stderr and return the exit to raise (``raise fail(...)``)."""
    typer.echo(line, err=True)
    return typer.Exit(status)


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


@contextmanager
def open_database(settings: Settings, *, current_schema: bool = True) -> Iterator[Engine]:
    """The engine of ``ANBU_DB_URL``, disposed afterwards; one line and exit 1 if the database
    does not answer or (``current_schema``) is not at this hub's newest migration."""
    from hub.checks import database_problem, redacted
    from hub.store.db import current_revision, head_revision, open_engine

    problem = database_problem(settings.db_url)
    if problem is not None:
        raise fail(
            "데이터베이스에 연결할 수 없습니다 / cannot connect to the database "
            f"{redacted(settings.db_url)}: {problem}"
        )
    engine = open_engine(settings.db_url)
    try:
        if current_schema:
            at, head = current_revision(engine), head_revision()
            if at != head:
                raise fail(
                    f"데이터베이스 스키마가 {at or '비어 있음'} 입니다 (필요: {head}) — "
                    f"`anbu db upgrade` 를 먼저 실행하세요 / the schema is at {at or 'nothing'}, "
                    f"this hub needs {head}: run `anbu db upgrade` first"
                )
        yield engine
    finally:
        engine.dispose()
