"""district references: residents' and users' district is a foreign key to the districts table

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11 12:00:00.000000

``residents.district`` and ``api_users.district`` keep the canonical name they hold (0006
mapped them) and become foreign keys to ``districts.name``, ``ON UPDATE CASCADE`` (renaming
a district moves its residents and officials with it; a district someone belongs to cannot
be deleted).

A name written since 0006 that is not a district yet is mapped first, by the same rules
(``서울 서대문구`` is 서대문구). A name that maps to none stops the migration before anything
is changed, with the rows that carry it: such a row would break the key, and guessing a
district, or dropping the row, is worse than asking. Give those rows a district the hub
knows (or add the name to ``districts`` with ``verified`` false) and upgrade again.

SQLite cannot add a foreign key to a table: each table is rebuilt in place (copied aside,
dropped, created with the key, copied back, its indexes made again) in the migration's
transaction. The hub keeps SQLite's foreign keys on, and dropping ``residents`` counts every
device, contact, alert… that points at it as a violation; the counts are deferred to the
commit (``PRAGMA defer_foreign_keys``) and the rows copied back into ``residents`` settle
them, so the commit fails only if one is really left without its resident. The same rebuild
takes the key out again on downgrade.
"""

from collections.abc import Callable
from functools import partial

from alembic import op
import sqlalchemy as sa
import structlog

from hub.districts import District, DistrictError, DistrictIndex


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

log = structlog.get_logger("hub.store.migrations.0007")

# (table, its key column, the foreign key's name), as of this revision.
_REFERENCES = (
    ('residents', 'id', 'residents_district_fkey'),
    ('api_users', 'id', 'api_users_district_fkey'),
)
_SHOWN_ROWS = 20
_districts = sa.table(
    'districts',
    sa.column('name', sa.String),
    sa.column('sido', sa.String),
    sa.column('sigungu', sa.String),
    sa.column('code', sa.String),
    sa.column('verified', sa.Boolean),
)


class UnmappedDistrictsError(RuntimeError):
    """Rows whose district is none of the hub's: the migration stops, nothing changed."""


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        _begin_sqlite(conn)
    _map_names(conn)
    for table, _key, fkey in _REFERENCES:
        if conn.dialect.name == 'sqlite':
            constraint = (
                f'CONSTRAINT {fkey} FOREIGN KEY(district) REFERENCES districts (name) '
                'ON UPDATE CASCADE'
            )
            _rebuild_sqlite(conn, table, partial(_with_constraint, constraint=constraint))
        else:
            op.create_foreign_key(
                fkey, table, 'districts', ['district'], ['name'], onupdate='CASCADE'
            )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        _begin_sqlite(conn)
    for table, _key, fkey in _REFERENCES:
        if conn.dialect.name == 'sqlite':
            _rebuild_sqlite(conn, table, partial(_without_constraint, fkey=fkey))
        else:
            op.drop_constraint(fkey, table, type_='foreignkey')


# -- mapping the names ------------------------------------------------------------------


def _map_names(conn: sa.Connection) -> None:
    """Rewrite each name that is not a district to the district it means; stop, naming the
    rows, if any means none."""
    known = [
        District(row.name, row.sido, row.sigungu, row.code, bool(row.verified))
        for row in conn.execute(sa.select(_districts))
    ]
    names = {d.name for d in known}
    index = DistrictIndex(known)
    mapped: dict[str, str] = {}
    unmapped: dict[str, tuple[str, list[str]]] = {}
    for table, key, _fkey in _REFERENCES:
        rows = sa.table(table, sa.column(key), sa.column('district', sa.String))
        query = sa.select(rows.c[key], rows.c.district).where(
            rows.c.district.is_not(None), rows.c.district.not_in(names)
        ).order_by(rows.c[key])
        for row_key, name in conn.execute(query):
            if name not in mapped and name not in unmapped:
                try:
                    mapped[name] = index.resolve(name).name
                except DistrictError as error:
                    unmapped[name] = (error.message, [])
            if name in unmapped:
                unmapped[name][1].append(f'{table} {row_key}')
    if unmapped:
        raise UnmappedDistrictsError(_unmapped_message(unmapped))
    for name, canonical in sorted(mapped.items()):
        for table, key, _fkey in _REFERENCES:
            rows = sa.table(table, sa.column(key), sa.column('district', sa.String))
            conn.execute(
                sa.update(rows).where(rows.c.district == name).values(district=canonical)
            )
        log.info('districts.mapped', district=name, to=canonical)


def _unmapped_message(unmapped: dict[str, tuple[str, list[str]]]) -> str:
    lines = [
        'migration 0007 stopped, nothing changed: these rows name a district that is none '
        "of the hub's districts, so their district cannot become a reference to one:"
    ]
    for name, (reason, rows) in sorted(unmapped.items()):
        shown = ', '.join(rows[:_SHOWN_ROWS])
        more = f' and {len(rows) - _SHOWN_ROWS} more' if len(rows) > _SHOWN_ROWS else ''
        lines.append(f'  {name!r} ({reason}): {shown}{more}')
    lines.append(
        'Give each row a district the hub knows (the districts table), or add the name as '
        "its own district (INSERT INTO districts (name, sigungu, verified) VALUES ('…', '…', "
        'false)), then run `anbu db upgrade` again.'
    )
    return '\n'.join(lines)


# -- SQLite: a table rebuilt with or without the key --------------------------------------


def _with_constraint(sql: str, constraint: str) -> str:
    body = sql.rstrip()
    if not body.endswith(')'):
        raise RuntimeError(f'unexpected table definition: {sql!r}')
    return f'{body[:-1].rstrip()}, \n\t{constraint}\n)'


def _without_constraint(sql: str, fkey: str) -> str:
    start = sql.find(f', \n\tCONSTRAINT {fkey} ')
    if start < 0:
        raise RuntimeError(f'{fkey} is not in the table definition: {sql!r}')
    return sql[:start] + '\n)'


def _begin_sqlite(conn: sa.Connection) -> None:
    """Make sure SQLite is inside the migration's transaction before any DDL. Python's
    sqlite3 begins one only before a write, and runs DDL outside of any: a table dropped
    before the first write would stay dropped whatever failed after it."""
    conn.execute(sa.update(_districts).where(sa.false()).values(verified=True))
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        raise RuntimeError('migration 0007 needs a transaction on SQLite; none is open')


def _rebuild_sqlite(conn: sa.Connection, table: str, change: Callable[[str], str]) -> None:
    """Recreate ``table`` from its own definition, changed by ``change(sql) -> sql``, with
    its rows and its indexes, inside the open transaction."""
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    indexes = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            'AND sql IS NOT NULL',
            (table,),
        )
    ]
    columns = ', '.join(
        f'"{row[1]}"' for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')
    )
    aside = f'_anbu_0007_{table}'
    # Until the commit: the rows pointing at this table count as violations while it is
    # gone, and copying its rows back takes each count away again.
    conn.exec_driver_sql('PRAGMA defer_foreign_keys = ON')
    conn.exec_driver_sql(f'CREATE TABLE "{aside}" AS SELECT {columns} FROM "{table}"')
    conn.exec_driver_sql(f'DROP TABLE "{table}"')
    conn.exec_driver_sql(change(sql))
    conn.exec_driver_sql(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{aside}"')
    conn.exec_driver_sql(f'DROP TABLE "{aside}"')
    for index in indexes:
        conn.exec_driver_sql(index)
    broken = conn.exec_driver_sql(f'PRAGMA foreign_key_check("{table}")').all()
    if broken:  # the mapping above leaves none; never commit one if it did not
        raise RuntimeError(f'{table}: rows break a foreign key after the rebuild: {broken[:5]}')
