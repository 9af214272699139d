"""Who the hub knows: a cache of registered residents and devices, kept beside the store.

Owns the worker's in-memory view of the registry (each resident's name and district, each
device's kind, who is no longer watched), filled from :mod:`hub.store.registry` at start,
updated as registrations, edits and deactivations are made (after their transaction
commits, or undone if it fails) and when a resident registered elsewhere is first looked
up. Ingest asks it whether a device is registered (a deactivated resident's devices are
not: their messages are refused as an unknown device's), the carrying out of decisions asks
it for a resident's name, telemetry for districts and device kinds.
"""

from __future__ import annotations

from hub.store.db import Connection
from hub.store.registry import load_registry, resident_name

__all__ = ["NotFoundError", "Registry"]


class NotFoundError(LookupError):
    """The resident, device or alert named does not exist."""


class Registry:
    """Registered residents and devices, as last committed (see the module docstring)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.districts: dict[str, str] = {}
        # Every registered (resident, device) and its kind: ingest checks membership here.
        self.device_kinds: dict[tuple[str, str], str] = {}
        # Residents no longer watched: their devices' messages are refused.
        self.inactive: set[str] = set()

    def load(self, conn: Connection) -> None:
        registered = load_registry(conn)
        self.names = registered.names
        self.districts = registered.districts
        self.device_kinds = registered.device_kinds
        self.inactive = registered.inactive

    def name_of(self, resident_id: str) -> str:
        return self.names.get(resident_id, resident_id)

    def knows_device(self, resident_id: str, device_id: str) -> bool:
        """Whether the device is registered to a resident who is watched (ingest's test)."""
        return (resident_id, device_id) in self.device_kinds and resident_id not in self.inactive

    def has_device(self, resident_id: str, device_id: str) -> bool:
        """Whether the device is registered, watched or not."""
        return (resident_id, device_id) in self.device_kinds

    def is_active(self, resident_id: str) -> bool:
        return resident_id not in self.inactive

    def set_active(self, resident_id: str, active: bool) -> None:
        if active:
            self.inactive.discard(resident_id)
        else:
            self.inactive.add(resident_id)

    def add_resident(self, resident_id: str, name: str, district: str) -> None:
        self.names[resident_id] = name
        self.districts[resident_id] = district

    def forget_resident(self, resident_id: str) -> None:
        self.names.pop(resident_id, None)
        self.districts.pop(resident_id, None)

    def add_device(self, resident_id: str, device_id: str, kind: str) -> None:
        self.device_kinds[(resident_id, device_id)] = kind

    def require(self, conn: Connection, resident_id: str) -> None:
        """Raise :class:`NotFoundError` unless the resident is registered (looked up in the
        store when not cached: another process may have registered them)."""
        if resident_id in self.names:
            return
        found = resident_name(conn, resident_id)
        if found is None:
            raise NotFoundError(f"resident {resident_id} not found")
        self.names[resident_id] = found
