"""The database errors that mean "unreachable, try again", as one tuple to catch.

Code outside :mod:`hub.store` tells a database that cannot be reached (nothing is
acknowledged; the caller retries) from a failure of one message or step without importing
SQLAlchemy.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import InterfaceError, OperationalError

__all__ = ["UNREACHABLE"]

UNREACHABLE: Final[tuple[type[Exception], ...]] = (OperationalError, InterfaceError)
