"""The roster view of the staff pages (placeholder: routes land with the view)."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.backend import Backend, Runner


def roster_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    return APIRouter(include_in_schema=False)
