"""Residents' and users' district is a foreign key to the districts table (migration 0007), on
SQLite and PostgreSQL: existing rows are mapped and kept with everything pointing at them, a
name that maps to none stops the migration before anything changes, and the downgrade takes
the key out again. The stores keep writes from outside the entry points working."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from alerts.engine import Escalation
from hub.runtime import working_calendar
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import Engine, alembic_config, current_revision, migrate, open_engine, reading
from hub.store.districts import list_districts
from hub.store.tables import api_users, contacts, devices, districts, residents

NOW = datetime.fromisoformat("2026-11-01T00:00:00+09:00")


@pytest.fixture
def at_0006(db_url: str) -> Iterator[Engine]:
    """A database at migration 0006, as a hub of that version left it."""
    engine = open_engine(db_url)
    upgrade_to(engine, db_url, "0006")
    yield engine
    engine.dispose()


def _head(db_url: str) -> str | None:
    """The newest revision: migrate() goes past 0007 to whatever came after it."""
    return ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def upgrade_to(engine: Engine, db_url: str, revision: str, *, down: bool = False) -> None:
    with engine.begin() as conn:
        config = alembic_config(db_url)
        config.attributes["connection"] = conn
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def add_people(engine: Engine, people: dict[str, str], official: str | None) -> None:
    """Residents (each with a device and a contact pointing at it) and one official."""
    with engine.begin() as conn:
        for resident_id, district in people.items():
            conn.execute(
                insert(residents).values(
                    id=resident_id, name="김", district=district, policy={}, created_at=NOW
                )
            )
            conn.execute(
                insert(devices).values(
                    resident_id=resident_id, id="spk", kind="speaker", registered_at=NOW
                )
            )
            conn.execute(
                insert(contacts).values(
                    resident_id=resident_id,
                    role="guardian",
                    name="이",
                    phone="+821000000001",
                    created_at=NOW,
                )
            )
        conn.execute(
            insert(api_users).values(
                id=7,
                name="박주무관",
                role="official",
                district=official,
                token_hash="x" * 64,
                created_at=NOW,
            )
        )


def district_keys(engine: Engine) -> dict[str, list[Any]]:
    """Each table's foreign keys to districts, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: [
            (fk["constrained_columns"], fk["referred_columns"], fk.get("options", {}))
            for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "districts"
        ]
        for table in ("residents", "api_users")
    }


def stored(engine: Engine) -> dict[str, Any]:
    with reading(engine) as conn:
        return {
            "residents": dict(conn.execute(select(residents.c.id, residents.c.district)).all()),
            "users": dict(conn.execute(select(api_users.c.id, api_users.c.district)).all()),
            "devices": conn.execute(select(func.count()).select_from(devices)).scalar_one(),
            "contacts": conn.execute(select(func.count()).select_from(contacts)).scalar_one(),
        }


def test_existing_rows_are_mapped_and_become_references(at_0006: Engine, db_url: str) -> None:
    engine = at_0006
    # Written after 0006 by something that did not resolve names: one mapped form, one
    # canonical name and the name 0006 kept unverified.
    add_people(engine, {"a": "서울 서대문구", "b": "강남구", "c": "서대문구"}, "대전  유성구")
    migrate(engine)
    assert current_revision(engine) == _head(db_url)
    keys = district_keys(engine)
    assert keys["residents"] and keys["api_users"], keys
    for constrained, referred, options in keys["residents"] + keys["api_users"]:
        assert (constrained, referred) == (["district"], ["name"])
        assert options.get("onupdate") == "CASCADE"
    assert stored(engine) == {
        "residents": {"a": "서대문구", "b": "강남구", "c": "서대문구"},
        "users": {7: "유성구"},
        "devices": 3,
        "contacts": 3,
    }

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(residents).values(
                id="z", name="김", district="없는구", policy={}, created_at=NOW
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(api_users).values(district="없는구"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(districts.delete().where(districts.c.name == "서대문구"))
    # A district renamed (an operator correcting one) carries its residents and officials.
    with engine.begin() as conn:
        conn.execute(
            update(districts).where(districts.c.name == "유성구").values(name="유성구(대전)")
        )
    assert stored(engine)["users"] == {7: "유성구(대전)"}

    with reading(engine) as conn:  # a new user gets the next id: the rebuild kept them
        assert conn.execute(select(func.max(api_users.c.id))).scalar_one() == 7


def test_a_name_that_maps_to_none_stops_the_migration_and_changes_nothing(
    at_0006: Engine, db_url: str
) -> None:
    engine = at_0006
    add_people(engine, {"a": "없는구", "b": "서울 서대문구", "c": "동구"}, "모르는구")
    before = stored(engine)
    with pytest.raises(RuntimeError) as caught:
        migrate(engine)
    message = str(caught.value)
    assert "migration 0007 stopped, nothing changed" in message
    assert "'없는구'" in message and "residents a" in message
    assert "'동구'" in message and "residents c" in message  # several 시도 have one
    assert "'모르는구'" in message and "api_users 7" in message
    assert "residents b" not in message  # it maps
    assert "anbu db upgrade" in message
    assert current_revision(engine) == "0006"
    assert stored(engine) == before, "not even the mappable name was rewritten"
    assert district_keys(engine) == {"residents": [], "api_users": []}

    # Fixed as the message says (the unknown names added as districts): it goes through.
    with engine.begin() as conn:
        for name in ("없는구", "동구", "모르는구"):
            conn.execute(insert(districts).values(name=name, sigungu=name, verified=False))
    migrate(engine)
    assert current_revision(engine) == _head(db_url)
    assert stored(engine)["residents"] == {"a": "없는구", "b": "서대문구", "c": "동구"}


def test_the_downgrade_takes_the_keys_out_and_keeps_the_rows(at_0006: Engine, db_url: str) -> None:
    engine = at_0006
    add_people(engine, {"a": "강남구"}, None)
    migrate(engine)
    upgrade_to(engine, db_url, "0006", down=True)
    assert current_revision(engine) == "0006"
    assert district_keys(engine) == {"residents": [], "api_users": []}
    assert stored(engine) == {
        "residents": {"a": "강남구"},
        "users": {7: None},
        "devices": 1,
        "contacts": 1,
    }
    migrate(engine)
    assert district_keys(engine)["residents"]


def test_a_name_the_entry_points_did_not_resolve_becomes_an_unverified_district(
    db_url: str,
) -> None:
    engine = open_engine(db_url)
    try:
        migrate(engine)
        settings = Settings(db_url=db_url, mqtt_url="embedded")
        core = HubCore(engine, Escalation(working_calendar(settings)), settings)
        core.register_resident({"id": "r1", "name": "박", "district": "시험구"}, NOW)
        core.register_resident({"id": "r2", "name": "최", "district": "시험구"}, NOW)
        with reading(engine) as conn:
            unverified = list_districts(conn, verified=False)
        assert [(d.name, d.sido, d.code) for d in unverified] == [("시험구", None, None)]
        assert stored(engine)["residents"] == {"r1": "시험구", "r2": "시험구"}
    finally:
        engine.dispose()
