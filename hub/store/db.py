"""Opening the database: engine settings per backend, migrations, and the two ways to use it.

Code outside :mod:`hub.store` never touches SQLAlchemy: it opens a connection with
:func:`reading` or a transaction with :func:`writing` and hands it to the query functions of
the store's modules. :data:`Connection` and :data:`Engine` are re-exported for its type hints.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

__all__ = [
    "Connection",
    "Engine",
    "alembic_config",
    "current_revision",
    "head_revision",
    "migrate",
    "open_engine",
    "open_probe_engine",
    "reachable",
    "reading",
    "writing",
]

_MIGRATIONS = Path(__file__).with_name("migrations")

# PostgreSQL limits, so a database that stops answering turns into an error instead of a
# thread waiting for ever. A statement may take up to STATEMENT_TIMEOUT_S (the ingest
# worker retries; migrations lift the limit); waiting for a row lock is shorter.
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_S = 30
LOCK_TIMEOUT_S = 10
# The pool's wait for a free connection before it raises.
POOL_TIMEOUT_S = 10
# TCP keepalives and the kernel's limit on unacknowledged data: a peer that vanished
# (cable, VM paused) is noticed within ~20 s even in the middle of a read.
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}


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


def _pg_connect_args(
    url: str, connect_s: float, statement_s: float, lock_s: float
) -> dict[str, Any]:
    """libpq settings for the limits above; a URL's own ``?options=`` or timeout wins."""
    query = make_url(url).query
    args: dict[str, Any] = {key: value for key, value in _KEEPALIVES.items() if key not in query}
    if "connect_timeout" not in query:
        # libpq counts whole seconds and treats anything below 2 as 2.
        args["connect_timeout"] = max(2, math.ceil(connect_s))
    if "options" not in query:
        statement_ms, lock_ms = int(statement_s * 1000), int(lock_s * 1000)
        args["options"] = f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}"
    return args


def open_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the per-backend settings the hub relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = _pg_connect_args(url, CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_S, LOCK_TIMEOUT_S)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args=connect_args,
    )


def open_probe_engine(url: str, timeout_s: float) -> Engine:
    """An engine for the health probe and the metrics' reads, apart from the writers' pool.

    A fresh connection each time (no pool): a pooled connection that froze, or a pool that
    the writers hold, cannot make a probe wait. SQLite waits at most ``timeout_s`` for a
    lock (WAL readers do not wait for the writer anyway); PostgreSQL's connect, statement
    and lock waits are bounded by it. The caller still bounds the whole call in time
    (:mod:`hub.health`): a connection that froze mid-read answers no timeout.
    """
    if url.startswith("sqlite"):
        return create_engine(
            url,
            poolclass=NullPool,
            connect_args={"check_same_thread": False, "timeout": timeout_s},
        )
    return create_engine(
        url,
        poolclass=NullPool,
        connect_args=_pg_connect_args(url, timeout_s, timeout_s, timeout_s),
    )


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A migration may rewrite a large table: no statement limit for this transaction.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
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
