"""The watchdog's state file: which outage was paged, and the SMS of it not yet handed over.

One small JSON file (``ANBU_WATCHDOG_STATE_FILE``), rewritten whole and atomically on every
change (a temporary file beside it, flushed to disk, then renamed over it), so a watchdog
killed at any instant finds either the old state or the new one, never half of each.

A pending SMS names its recipient by role and place in the settings' list, never by number
(numbers stay in the settings). Before a provider is called the file records which one
(``calling``), as the hub's outbox does: a watchdog that dies during the call asks that
provider on restart whether the message went out, and when it cannot tell, gives the message
up rather than paging twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.watchdog_rules import PageKind, WatchState

__all__ = ["Pending", "Saved", "load_state", "save_state"]


@dataclass(frozen=True, slots=True)
class Pending:
    """One SMS of a page, not yet handed over."""

    key: str
    role: str
    index: int
    kind: PageKind
    body: str
    calling: str | None = None
    """The provider being called when the state was written; ``None``: not called yet."""

    def calling_now(self, provider: str | None) -> Pending:
        return replace(self, calling=provider)


@dataclass(frozen=True, slots=True)
class Saved:
    """The whole file."""

    watch: WatchState = field(default_factory=WatchState)
    pending: tuple[Pending, ...] = ()


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def load_state(path: Path) -> Saved:
    """The saved state; a missing file is a first start. A file that cannot be read is an
    error, not a fresh start: starting fresh could page an outage already paged."""
    if not path.exists():
        return Saved()
    data = json.loads(path.read_text(encoding="utf-8"))
    watch = WatchState(
        incident=int(data["incident"]),
        down=bool(data["down"]),
        down_since=_when(data.get("down_since")),
        paged_at=_when(data.get("paged_at")),
    )
    pending = tuple(
        Pending(
            key=str(item["key"]),
            role=str(item["role"]),
            index=int(item["index"]),
            kind=item["kind"],
            body=str(item["body"]),
            calling=item.get("calling"),
        )
        for item in data.get("pending", [])
    )
    return Saved(watch, pending)


def save_state(path: Path, saved: Saved) -> None:
    """Write ``saved`` to ``path`` atomically (temporary file, fsync, rename, fsync dir)."""
    watch = saved.watch
    data = {
        "v": 1,
        "incident": watch.incident,
        "down": watch.down,
        "down_since": watch.down_since.isoformat() if watch.down_since else None,
        "paged_at": watch.paged_at.isoformat() if watch.paged_at else None,
        "pending": [
            {
                "key": p.key,
                "role": p.role,
                "index": p.index,
                "kind": p.kind,
                "body": p.body,
                "calling": p.calling,
            }
            for p in saved.pending
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    # The rename itself must reach the disk, or a power cut could bring the old file back.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
