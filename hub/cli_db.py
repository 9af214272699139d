"""``anbu db upgrade|current``: the hub's database schema, through alembic in hub/store/db.py.

``anbu hub`` upgrades the schema itself when it starts; these commands are for installers
who migrate before starting (a new release, a database restored from a backup) and for
checking where a database is.
"""

from __future__ import annotations

import typer

from hub.cli_support import open_database, settings_or_exit

db_app = typer.Typer(
    help="The hub's database schema (ANBU_DB_URL): upgrade it, or show where it is.",
    no_args_is_help=True,
)


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration and this hub's newest; exit 1 if they differ.

    Examples: ``anbu db current``;
    ``ANBU_DB_URL=postgresql+psycopg://anbu@127.0.0.1/anbu anbu db current``.
    """
    from hub.store.db import current_revision, head_revision

    settings = settings_or_exit()
    with open_database(settings, current_schema=False) as engine:
        at, head = current_revision(engine), head_revision()
    typer.echo(f"current: {at or '(empty database)'}")
    typer.echo(f"head:    {head}")
    if at == head:
        typer.echo("최신입니다 / up to date")
        return
    typer.echo("업그레이드가 필요합니다: anbu db upgrade / behind: run `anbu db upgrade`")
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to this hub's newest migration (safe to run again).

    Examples: ``anbu db upgrade``;
    ``ANBU_DB_URL=postgresql+psycopg://anbu@127.0.0.1/anbu anbu db upgrade``.
    """
    from hub.store.db import current_revision, migrate

    settings = settings_or_exit()
    with open_database(settings, current_schema=False) as engine:
        before = current_revision(engine)
        migrate(engine)
        after = current_revision(engine)
    if before == after:
        typer.echo(f"이미 최신입니다 / already at {after}")
    else:
        typer.echo(f"{before or '(empty)'} → {after}")
