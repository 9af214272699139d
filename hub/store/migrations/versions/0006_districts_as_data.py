"""districts as data: the districts table, seeded with the 시군구 of Korea, and the free-text
district names of residents and users mapped to it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 12:00:00.000000

Names that resolve (exactly, or in a "시도 구" form such as "서울 서대문구") are rewritten to the
canonical name. Names that do not (unknown, or a name several 시도 share such as "동구") are
kept as they are and added as unverified districts, so nobody loses their district; each is
logged (``districts.unmapped``) and listed by ``list_districts(conn, verified=False)``. The
downgrade drops the table and leaves the canonical names in place.
"""

from alembic import op
import sqlalchemy as sa
import structlog

from hub.districts import DistrictError, DistrictIndex, seed_districts


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

log = structlog.get_logger("hub.store.migrations.0006")

# The columns as of this revision, so later changes to tables.py cannot change this step.
_districts = sa.table(
    'districts',
    sa.column('name', sa.String),
    sa.column('sido', sa.String),
    sa.column('sigungu', sa.String),
    sa.column('code', sa.String),
    sa.column('verified', sa.Boolean),
)
_residents = sa.table('residents', sa.column('district', sa.String))
_users = sa.table('api_users', sa.column('district', sa.String))


def upgrade() -> None:
    op.create_table(
        'districts',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('sido', sa.String(length=20), nullable=True),
        sa.Column('sigungu', sa.String(length=100), nullable=False),
        sa.Column('code', sa.String(length=10), nullable=True),
        sa.Column('verified', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
        sa.UniqueConstraint('code'),
    )
    seed = seed_districts()
    op.bulk_insert(
        _districts,
        [
            {'name': d.name, 'sido': d.sido, 'sigungu': d.sigungu, 'code': d.code,
             'verified': True}
            for d in seed
        ],
    )
    _map_free_text(op.get_bind(), DistrictIndex(seed))


def _map_free_text(conn: sa.Connection, index: DistrictIndex) -> None:
    counts: dict[str, list[int]] = {}
    for table, slot in ((_residents, 0), (_users, 1)):
        column = table.c.district
        query = sa.select(column, sa.func.count()).where(column.is_not(None)).group_by(column)
        for name, count in conn.execute(query):
            counts.setdefault(name, [0, 0])[slot] += count
    for name, (resident_count, user_count) in sorted(counts.items()):
        try:
            canonical = index.resolve(name).name
        except DistrictError as error:
            conn.execute(
                sa.insert(_districts).values(
                    name=name, sido=None, sigungu=name, code=None, verified=False
                )
            )
            log.warning(
                'districts.unmapped', district=name, residents=resident_count,
                users=user_count, reason=error.message,
            )
            continue
        if canonical != name:
            for table in (_residents, _users):
                conn.execute(
                    sa.update(table).where(table.c.district == name).values(district=canonical)
                )
            log.info('districts.mapped', district=name, to=canonical,
                     residents=resident_count, users=user_count)


def downgrade() -> None:
    op.drop_table('districts')
