"""Opening the database: engine settings per backend, migrations, and the two ways to use it.

Code outside :mod:`hub.store` never touches SQLAlchemy: it opens a connection with
:func:`reading` or a transaction with :func:`writing` and hands it to the query functions of
the store's modules. :data:`Connection` and :data:`Engine` are re-exported for its type hints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text

__all__ = [
    "Connection",
    "Engine",
    "alembic_config",
    "current_revision",
    "head_revision",
    "migrate",
    "open_engine",
    "reachable",
    "reading",
    "writing",
]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the ingest worker writes. FULL syncs the WAL on every
    # commit: the worker acknowledges a message to the broker only after its commit, so the
    # commit must survive a power cut (NORMAL may lose the last one; see `anbu bench ingest`
    # figures in README for what FULL costs).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the per-backend settings the hub relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (``anbu db current``); ``None`` for an empty one."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest migration this version of the hub ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # only if the migrations folder were missing from the install
        msg = f"no migrations found in {_MIGRATIONS}"
        raise RuntimeError(msg)
    return head


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; whatever it began is rolled back when the block ends."""
    with engine.connect() as conn:
        yield conn


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as conn:
        yield conn


def reachable(engine: Engine) -> bool:
    """Whether the database answers a trivial query now (the health check)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
