"""SQLite's commit survives a power cut: the worker acknowledges a message to the broker
only after its commit, so the default store must sync the WAL on every commit."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hub.store.db import migrate, open_engine, reading

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_connection_syncs_each_commit_in_wal_mode(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        migrate(engine)
        # Several connections: the setting is per connection, so each must get it.
        with reading(engine) as first, reading(engine) as second:
            for conn in (first, second):
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA synchronous")).scalar() == FULL
    finally:
        engine.dispose()
