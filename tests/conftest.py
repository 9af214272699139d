"""Shared pytest fixtures: an MQTT broker, throwaway databases, free ports.

* ``mosquitto`` - a Mosquitto broker on a free port, one per test (fails if not installed).
* ``pg_url`` - a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth),
  dropped afterwards. Fails, never skips, when PostgreSQL is unreachable.
* ``db_url`` - parametrized: runs the test once on SQLite and once on PostgreSQL.
* ``free_port()`` - a helper, not a fixture.

ANBU_TEST_PG_HOST / ANBU_TEST_PG_PORT / ANBU_TEST_PG_USER override the PostgreSQL server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker import Broker, MosquittoBroker, find_mosquitto
from hub.broker import free_port as _free_port

PG_HOST = os.environ.get("ANBU_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ANBU_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ANBU_TEST_PG_USER", "postgres")


def pytest_report_header() -> str:
    """Say which clock the suite runs on (scripts/test.sh moves it; see scripts/test_clock.py)."""
    now = os.environ.get("ANBU_TEST_NOW")
    if not now or now == "off":
        return "test clock: the machine's own"
    return f"test clock: moved to {now} (replay: ANBU_TEST_NOW={now} ./scripts/test.sh)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running Mosquitto broker (MQTT 5/3.1.1, persistence in tmp_path), stopped at teardown."""
    if find_mosquitto() is None:
        pytest.fail(
            "the mosquitto binary is missing (not on PATH, not in /usr/sbin); "
            "./scripts/test.sh installs it, or run: apt-get install -y mosquitto",
            pytrace=False,
        )
    broker = Broker.mosquitto(workdir=tmp_path / "mosquitto")
    try:
        yield broker
    finally:
        broker.close()


def _pg_admin_conninfo() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=5"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a new, empty PostgreSQL database ``anbu_test_<random>``, dropped after."""
    import psycopg
    from psycopg import sql

    name = f"anbu_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(_pg_admin_conninfo(), autocommit=True)
    except psycopg.OperationalError as exc:
        error = str(exc)
    else:
        error = ""
    if error:  # fail (not skip) outside the except block, so the report is one clear line
        pytest.fail(
            f"PostgreSQL is unreachable at {PG_USER}@{PG_HOST}:{PG_PORT} (trust auth expected); "
            f"tests on the postgresql backend need it running: {error}",
            pytrace=False,
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL, once per backend: a SQLite file in tmp_path, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'anbu.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
