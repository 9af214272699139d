"""The database errors that mean "unreachable, try again", as one tuple to catch.

Code outside :mod:`hub.store` tells a database that cannot be reached (nothing is
acknowledged; the caller retries) from a failure of one message or step without importing
SQLAlchemy.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["UNREACHABLE"]

# A pool that hands out no connection in time (every one busy or dead) is the database
# being away too, not a bad message: it is no OperationalError, so it is named here.
UNREACHABLE: Final[tuple[type[Exception], ...]] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
)
