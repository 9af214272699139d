"""The alembic migrations build exactly the tables the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.store.db import migrate, open_engine
from hub.store.tables import metadata


def test_migrations_match_tables(db_url: str) -> None:
    engine = open_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a restarted hub migrates again
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"tables.py and migrations differ: {diff}"
    finally:
        engine.dispose()
