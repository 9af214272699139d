"""The device's store-and-forward outbox: every event is on disk before it is sent.

An event is written to SQLite (synchronous=FULL, so it survives a power cut, not only a
crash) and leaves only when the broker has acknowledged it (QoS 1 PUBACK). The outbox owns:

* **order**: two lanes. Emergencies and their cancels go first, because a call for help must
  not wait behind six hours of "kettle on"; everything else goes in the order it was
  queued, with its original ``ts`` (per source that is time order; a folded message is
  queued when its window closes, carrying the time of its latest signal).
* **activity folding**: at most one activity message per source per ``fold_s``; later signals
  in the window are counted in ``count``. The pending count is on disk too, so a crash loses
  no signal.
* **bounds**: above ``max_rows`` it sheds by folding old activity of the same source into
  hourly, then daily messages (counts add up; nothing is forgotten, only summarised). It
  never drops or merges an emergency, a check-in answer or a vital reading.
* **feed de-duplication**: a signal carrying the feed's own ``ref`` is taken once, so an
  automation app that retries after a timeout does not double a count.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

import structlog

from protocol.models import Activity, ActivitySource, to_json

log = structlog.get_logger(__name__)

Channel = Literal["activity", "emergency", "checkin", "vitals"]

_REFS_KEPT = 10_000
_SHED_TARGET = 0.8  # shed down to 80 % of the bound, so shedding is not redone per event
_SHED_BUCKETS_S = (3600, 86_400, None)  # hourly, then daily, then one per source

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    urgent INTEGER NOT NULL,
    source TEXT,            -- activity source: the row may be folded when shedding
    count INTEGER NOT NULL,
    ts TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox (urgent DESC, seq);
CREATE TABLE IF NOT EXISTS folds (
    source TEXT PRIMARY KEY,
    last_emit TEXT,
    pending INTEGER NOT NULL DEFAULT 0,
    pending_ts TEXT,
    window_end TEXT
);
CREATE TABLE IF NOT EXISTS refs (ref TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Pending:
    """An event ready to publish on ``anbu/v1/{resident}/{device}/{channel}``."""

    seq: int
    event_id: str
    channel: Channel
    payload: bytes


def new_event_id(channel: str) -> str:
    """A device-unique id; random, so it stays unique across restarts and re-installs."""
    return f"{channel[0]}-{uuid.uuid4().hex}"


class Outbox:
    """SQLite-backed outbox; safe to use from the agent, link and MQTT threads."""

    def __init__(self, path: Path, *, max_rows: int = 20_000, fold_s: float = 60.0) -> None:
        self.path = path
        self.max_rows = max_rows
        self.fold = timedelta(seconds=fold_s)
        self._lock = threading.Lock()
        self._inflight: set[str] = set()
        self._shed_rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        db.execute("PRAGMA quick_check").fetchone()
        return db

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            return self._connect(path)
        except sqlite3.DatabaseError as exc:
            # A card that lost power mid-write can corrupt the file. Keep it for a technician
            # and carry on with an empty outbox rather than stop monitoring the resident.
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            path.rename(aside)
            log.error("outbox unreadable, moved aside", path=str(aside), error=exc)
            return self._connect(path)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing events -----------------------------------------------------------------

    def add(
        self,
        channel: Channel,
        event_id: str,
        ts: datetime,
        payload: bytes,
        *,
        urgent: bool = False,
        ref: str | None = None,
    ) -> bool:
        """Store one event that must never be folded or shed. False if ``ref`` was seen."""
        with self._tx() as db:
            if not _claim_ref(db, ref):
                return False
            _insert(db, channel, event_id, ts, payload, urgent=urgent, source=None, count=1)
            self._shed_if_full(db)
        return True

    def record_activity(
        self,
        source: ActivitySource,
        at: datetime,
        now: datetime,
        *,
        count: int = 1,
        ref: str | None = None,
        sensor: str | None = None,
        signal: str | None = None,
    ) -> bool:
        """Take ``count`` signals of ``source``; sends now or folds into the open window.

        ``sensor``/``signal`` go on a message sent now; a folded one counts mixed signals and
        names none.
        """
        with self._tx() as db:
            if not _claim_ref(db, ref):
                return False
            # Windows that have closed go first, so the queue stays close to time order.
            self._flush_due(db, now)
            row = db.execute(
                "SELECT last_emit, pending, pending_ts, window_end FROM folds WHERE source = ?",
                (source,),
            ).fetchone()
            if row is not None and row[1] > 0:
                latest = max(_parse(row[2]), at)
                db.execute(
                    "UPDATE folds SET pending = pending + ?, pending_ts = ? WHERE source = ?",
                    (count, _iso(latest), source),
                )
            elif row is not None and row[0] is not None and now < _parse(row[0]) + self.fold:
                db.execute(
                    "UPDATE folds SET pending = ?, pending_ts = ?, window_end = ? WHERE source = ?",
                    (count, _iso(at), _iso(_parse(row[0]) + self.fold), source),
                )
            else:
                _insert_activity(db, source, at, count, sensor=sensor, signal=signal)
                db.execute(
                    "INSERT INTO folds (source, last_emit, pending) VALUES (?, ?, 0) "
                    "ON CONFLICT (source) DO UPDATE SET last_emit = excluded.last_emit, "
                    "pending = 0, pending_ts = NULL, window_end = NULL",
                    (source, _iso(now)),
                )
            self._shed_if_full(db)
        return True

    def flush_folds(self, now: datetime) -> int:
        """Queue the folded activity whose window has closed; returns messages queued."""
        with self._tx() as db:
            flushed = self._flush_due(db, now)
            if flushed:
                self._shed_if_full(db)
        return flushed

    @staticmethod
    def _flush_due(db: sqlite3.Connection, now: datetime) -> int:
        rows = db.execute(
            "SELECT source, pending, pending_ts, window_end FROM folds "
            "WHERE pending > 0 AND window_end <= ? ORDER BY pending_ts",
            (_iso(now),),
        ).fetchall()
        for source, pending, pending_ts, window_end in rows:
            _insert_activity(db, source, _parse(pending_ts), pending)
            db.execute(
                "UPDATE folds SET last_emit = ?, pending = 0, pending_ts = NULL, "
                "window_end = NULL WHERE source = ?",
                (window_end, source),
            )
        return len(rows)

    def next_fold_due(self) -> datetime | None:
        """When :meth:`flush_folds` next has something to do."""
        with self._lock:
            row = self._db.execute("SELECT min(window_end) FROM folds WHERE pending > 0").fetchone()
        return None if row[0] is None else _parse(row[0])

    # -- sending ------------------------------------------------------------------------

    def take(self, limit: int) -> list[Pending]:
        """Up to ``limit`` events not already in flight, urgent lane first, then in order.

        They are marked in flight until :meth:`ack` or :meth:`release`.
        """
        if limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, channel, payload FROM outbox "
                "ORDER BY urgent DESC, seq LIMIT ?",
                (limit + len(self._inflight),),
            ).fetchall()
            taken = [
                Pending(seq, event_id, channel, bytes(payload))
                for seq, event_id, channel, payload in rows
                if event_id not in self._inflight
            ][:limit]
            self._inflight.update(p.event_id for p in taken)
        return taken

    def ack(self, event_ids: Iterable[str]) -> None:
        """The broker has these: forget them."""
        ids = list(event_ids)
        if not ids:
            return
        with self._tx() as db:
            db.executemany("DELETE FROM outbox WHERE event_id = ?", [(i,) for i in ids])
            self._inflight.difference_update(ids)

    def release(self, event_ids: Iterable[str] | None = None) -> None:
        """Not acknowledged after all (connection lost, broker refused): send again later."""
        with self._lock:
            if event_ids is None:
                self._inflight.clear()
            else:
                self._inflight.difference_update(event_ids)

    # -- state --------------------------------------------------------------------------

    def depth(self) -> int:
        """Events waiting for the broker (folded-but-not-yet-queued signals not included)."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    @property
    def shed_rows(self) -> int:
        """Activity messages merged away by shedding since start (their counts were kept)."""
        return self._shed_rows

    def get(self, key: str) -> str | None:
        """A small persisted setting (heartbeat interval, pending check-in)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str | None) -> None:
        """Set or (with None) delete a persisted setting."""
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def close(self) -> None:
        """Close the database; further use raises."""
        with self._lock:
            self._db.close()

    # -- shedding -----------------------------------------------------------------------

    def _shed_if_full(self, db: sqlite3.Connection) -> None:
        total = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        if total <= self.max_rows:
            return
        target = int(self.max_rows * _SHED_TARGET)
        before = total
        for bucket_s in _SHED_BUCKETS_S:
            total -= self._fold_old_activity(db, bucket_s, total - target)
            if total <= target:
                break
        self._shed_rows += before - total
        log.warning(
            "outbox full: folded old activity",
            rows_before=before,
            rows_after=total,
            bound=self.max_rows,
        )

    def _fold_old_activity(self, db: sqlite3.Connection, bucket_s: int | None, need: int) -> int:
        """Merge activity rows of one source and bucket, oldest first; returns rows removed.

        The merged message keeps the newest row's ``ts`` and place in the queue, with the
        counts added up, under a new id: a row sent before a restart (its acknowledgement
        lost, no longer known to be in flight) may be at the hub already, and the hub keeps
        a known id with other content as a conflict, not as more activity (a row the hub
        did have is then counted twice: more activity than there was is the lesser harm
        for a monitor of silence). Rows in flight are left alone: the hub may already have
        them.
        """
        rows = db.execute(
            "SELECT seq, event_id, source, count, ts FROM outbox "
            "WHERE source IS NOT NULL ORDER BY seq"
        ).fetchall()
        groups: dict[tuple[str, int], list[tuple[int, str, int, str]]] = {}
        for seq, event_id, source, count, ts in rows:
            if event_id in self._inflight:
                continue
            stamp = _parse(ts).timestamp()
            key = (source, 0 if bucket_s is None else int(stamp // bucket_s))
            groups.setdefault(key, []).append((seq, event_id, count, ts))
        removed = 0
        for (source, _bucket), members in sorted(groups.items(), key=lambda kv: kv[1][0][0]):
            if removed >= need:
                break
            if len(members) < 2:
                continue
            keep_seq, _keep_id, _count, keep_ts = members[-1]
            merged_id = new_event_id("activity")
            total = sum(m[2] for m in members)
            payload = to_json(
                Activity(
                    v=1,
                    id=merged_id,
                    ts=_parse(keep_ts),
                    source=cast(ActivitySource, source),
                    count=total,
                )
            )
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(m[0],) for m in members[:-1]])
            db.execute(
                "UPDATE outbox SET event_id = ?, count = ?, payload = ? WHERE seq = ?",
                (merged_id, total, payload, keep_seq),
            )
            removed += len(members) - 1
        return removed


def _claim_ref(db: sqlite3.Connection, ref: str | None) -> bool:
    if ref is None:
        return True
    cursor = db.execute("INSERT OR IGNORE INTO refs (ref) VALUES (?)", (ref,))
    if cursor.rowcount == 0:
        return False
    rowid = cursor.lastrowid or 0
    if rowid % 1000 == 0:
        db.execute("DELETE FROM refs WHERE rowid <= ?", (rowid - _REFS_KEPT,))
    return True


def _insert(
    db: sqlite3.Connection,
    channel: Channel,
    event_id: str,
    ts: datetime,
    payload: bytes,
    *,
    urgent: bool,
    source: str | None,
    count: int,
) -> None:
    db.execute(
        "INSERT INTO outbox (event_id, channel, urgent, source, count, ts, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event_id, channel, int(urgent), source, count, _iso(ts), payload),
    )


def _insert_activity(
    db: sqlite3.Connection,
    source: ActivitySource,
    at: datetime,
    count: int,
    *,
    sensor: str | None = None,
    signal: str | None = None,
) -> None:
    event_id = new_event_id("activity")
    message = Activity(
        v=1,
        id=event_id,
        ts=at,
        source=source,
        count=count if count > 1 else None,
        sensor=sensor,
        signal=signal,
    )
    _insert(
        db, "activity", event_id, at, to_json(message), urgent=False, source=source, count=count
    )


def _iso(at: datetime) -> str:
    # One fixed format (UTC, microseconds) so SQL string comparison is time order.
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
