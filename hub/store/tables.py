"""The hub's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from hub.store.types import UTCDateTime

metadata = MetaData()

residents = Table(
    "residents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    # A district of the hub's (migration 0007); renaming a district carries its residents.
    Column(
        "district",
        String(100),
        ForeignKey("districts.name", name="residents_district_fkey", onupdate="CASCADE"),
        nullable=False,
    ),
    Column("phone", String(32)),
    Column("address", String(300)),
    Column("policy", JSON, nullable=False),
    # Bumped on every policy change; an alert records the version it opened under.
    Column("policy_version", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    # Set while the resident is no longer watched (moved away, into care, died: migration
    # 0008); the row and its history stay, reactivation clears both.
    Column("inactive_since", UTCDateTime),
    Column("inactive_reason", String(20)),
)

devices = Table(
    "devices",
    metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("online", Boolean, nullable=False, default=True),
    Column("status_at", UTCDateTime),
    ForeignKeyConstraint(["resident_id"], ["residents.id"]),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", String(64), nullable=False, index=True),
    Column("role", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("phone", String(32), nullable=False),
    # "22:00-07:00" in ANBU_TZ: routine messages wait (bounded); emergencies never do.
    Column("quiet_hours", String(11)),
    # A backup guardian is paged only when a message to another guardian could not be
    # delivered.
    Column("backup", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["resident_id"], ["residents.id"]),
)

# One row per resident: the escalation core's state and when it next needs a look.
resident_state = Table(
    "resident_state",
    metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("state", Text, nullable=False),
    Column("next_due_at", UTCDateTime, index=True),
    Column("last_activity_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["resident_id"], ["residents.id"]),
)

# Every accepted device message, once: the primary key is the protocol's dedup key. A status
# (retained; the Last Will) is kept too, with "status:{state}:{ts}" as its id. ``seq`` is the
# order the hub took them in, so an exported trace replays in delivery order.
events = Table(
    "events",
    metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("seq", BigInteger),
    Index("ix_events_resident_ts", "resident_id", "ts"),
    Index("ix_events_received", "received_at", "seq"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("topic", String(300), nullable=False),
    Column("reason", String(40), nullable=False, index=True),
    Column("detail", Text, nullable=False),
    # Kept as text with undecodable bytes escaped, cut to the protocol's 8 KiB limit.
    Column("payload", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("resident_id", String(64), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("state", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    # Why, in plain Korean, for staff (inactivity alerts say what was unusual).
    Column("explanation", Text),
    Column("opened_at", UTCDateTime, nullable=False, index=True),
    Column("acknowledged_at", UTCDateTime),
    Column("acknowledged_by", String(100)),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(100)),
    Column("outcome", String(40)),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["resident_id"], ["residents.id"]),
)

alert_timeline = Table(
    "alert_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(64), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("what", String(60), nullable=False),
    Column("by", String(100)),
    Column("note", Text),
)

# The notification log and send queue in one: a row is written in the same transaction as
# the decision that caused it, and its unique key is the dedup memory.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("alert_id", String(64), index=True),
    Column("resident_id", String(64), index=True),
    Column("role", String(20)),
    Column("recipient", String(300), nullable=False),
    Column("kind", String(24)),
    Column("stage", String(16)),
    Column("body", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # What the core asked for, so a failed guardian message can be re-planned for a backup.
    Column("message", String(40)),
    Column("step", String(40)),
    Column("event_at", UTCDateTime),
    # Which contact (for falling back to the next guardian) and which provider took it.
    Column("contact_id", Integer),
    Column("provider", String(16)),
    Column("provider_id", String(100)),
    # Set, and committed, just before a provider is called; cleared on a definite answer.
    # After a crash, a row still naming a provider here may have gone out.
    Column("calling", String(16)),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("key", name="uq_outbox_key"),
    Index("ix_outbox_state", "state", "id"),
)

# One-tap links in guardians' SMS: the token carries (id, expiry) signed with the hub's key.
links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", String(64), nullable=False, index=True),
    Column("alert_id", String(64), nullable=False),
    Column("contact_id", Integer),
    Column("role", String(20), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# Secrets the hub generates for itself (the link-signing key) when none is configured.
hub_secrets = Table(
    "hub_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(200), nullable=False),
)

# Browser sessions of staff (hub/api/sessions.py): the cookie is a random id, only its
# SHA-256 is here; ``subject`` is whose token (its hash, or the admin's), ``ended_at`` a
# logout. Nothing in this table lets anyone sign in: the id itself is never stored.
browser_sessions = Table(
    "browser_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("subject", String(80), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
)

# Feed tokens of phones that post to the hub over HTTPS without the agent (hub/api/
# device_feed.py, migration 0010): only the token's SHA-256 is here, one row per issued
# token of a registered device; ``revoked_at`` set means it is refused from then on.
device_feed_tokens = Table(
    "device_feed_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("resident_id", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    ForeignKeyConstraint(
        ["resident_id", "device_id"],
        ["devices.resident_id", "devices.id"],
        name="device_feed_tokens_device_fkey",
    ),
    Index("ix_device_feed_tokens_device", "resident_id", "device_id"),
)

# A sensor gateway's latest word on itself (migration 0011): whether it can see the home,
# and each sensor behind it as its newest heartbeat listed them (hub.store.sensor_health).
device_sensing = Table(
    "device_sensing",
    metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("sensing", Boolean, nullable=False),
    Column("problem", String(32)),
    Column("since", UTCDateTime, nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["resident_id", "device_id"],
        ["devices.resident_id", "devices.id"],
        name="device_sensing_device_fkey",
    ),
)

sensor_health = Table(
    "sensor_health",
    metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("sensor", String(64), primary_key=True),
    Column("signal", String(32)),
    Column("available", Boolean),
    Column("last_seen", UTCDateTime),
    Column("battery_pct", Integer),
    Column("battery_low", Boolean),
    Column("linkquality", Integer),
    Column("active_since", UTCDateTime),
    Column("reported_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["resident_id", "device_id"],
        ["devices.resident_id", "devices.id"],
        name="sensor_health_device_fkey",
    ),
)

# Messages held outside working hours for the roles paged only in working hours (officials,
# the health centre), sent as one digest per recipient and role.
digest_items = Table(
    "digest_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("resident_id", String(64), nullable=False),
    Column("alert_id", String(64), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("role", String(20), nullable=False, server_default="official"),
    Column("message", String(40), nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("deliver_at", UTCDateTime, nullable=False, index=True),
    Column("delivered", Boolean, nullable=False, default=False),
    UniqueConstraint("key", name="uq_digest_key"),
)

# Lasting changes in a resident's own routine (alerts/trends.py) for the district official's
# work list and digest: never an SMS of their own, never to guardians.
trend_findings = Table(
    "trend_findings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("resident_id", String(64), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("detected_at", UTCDateTime, nullable=False, index=True),
    Column("detail", Text, nullable=False),
    ForeignKeyConstraint(["resident_id"], ["residents.id"]),
)

# The districts (시군구) residents and officials belong to, by the canonical name their
# ``district`` columns hold, a foreign key since migration 0007 (hub/districts.py resolves
# what people type to it). Seeded from districts.csv with each 행정표준코드; ``verified`` is
# false for a name kept because it matched none (by migration 0006, or written by something
# other than the entry points: hub/store/districts.ensure_district); data is never dropped,
# an operator renames it, and renaming carries its residents and officials.
districts = Table(
    "districts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("sido", String(20)),
    Column("sigungu", String(100), nullable=False),
    Column("code", String(10), unique=True),
    Column("verified", Boolean, nullable=False),
)

# People who sign in to the API and board: operators and district officials (the bootstrap
# admin comes from ANBU_ADMIN_TOKEN). Only a hash of each token is kept.
api_users = Table(
    "api_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column(
        "district",
        String(100),
        ForeignKey("districts.name", name="api_users_district_fkey", onupdate="CASCADE"),
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)
