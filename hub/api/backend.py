"""What the API needs from the running hub, and how a route hands it a change.

Owns :class:`Backend` (the hub as the routes see it) and :class:`Runner`, which runs a
change on the hub's writer thread and turns the core's refusals into HTTP errors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException, status
from pydantic import ValidationError

from hub.changes import ChangeFeed
from hub.metrics import HubMetrics
from hub.service import ConflictError, HubCore, NotFoundError
from hub.settings import Settings
from hub.store.db import Engine

T = TypeVar("T")


class Backend(Protocol):
    """What the API needs from the running hub."""

    settings: Settings
    engine: Engine
    core: HubCore
    changes: ChangeFeed
    metrics: HubMetrics

    def call(self, fn: Callable[[datetime], T]) -> T: ...

    def health(self) -> dict[str, Any]: ...

    def now(self) -> datetime: ...


class Runner:
    """Runs ``fn(now)`` on the hub's writer thread, so the API and MQTT never race on a
    resident's state; what the core refuses comes back as 404, 409 or 422."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __call__(self, fn: Callable[[datetime], T]) -> T:
        try:
            return self._backend.call(fn)
        except NotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except ConflictError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        except ValidationError as error:
            detail = [
                {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
                for item in error.errors(include_url=False, include_input=False)
            ]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
