"""What `pip install 'anbu[edge,voice,ble]'` pulls in: the edge's extras stay light.

The set is resolved from the installed distributions' own metadata, transitively, with each
requirement's markers evaluated for this machine and the extras asked for, as pip resolves
it: a speaker or a sensors gateway must not carry the hub's web server, database layer or
TSDB client because a voice or Bluetooth library depends on them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, requires

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HUB_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "influxdb-client",
)


def _installed_set(extras: tuple[str, ...]) -> set[str]:
    """Every distribution `anbu[extras]` needs, by canonical name (anbu itself included)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [("anbu", frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), wanted)
        if key in seen:
            continue
        seen.add(key)
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue  # needed but not installed here: still counted, with nothing below it
        for line in declared:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return {name for name, _ in seen}


def test_the_edge_with_voice_and_ble_pulls_nothing_of_the_hub() -> None:
    pulled = _installed_set(("edge", "voice", "ble"))
    assert {"paho-mqtt", "wyoming", "bleak"} <= pulled, sorted(pulled)
    assert sorted(pulled & set(HUB_ONLY)) == []


def test_the_resolution_sees_the_hub_s_own_dependencies() -> None:
    # The same walk over the hub extra finds them: the check above can fail.
    assert {"fastapi", "sqlalchemy", "influxdb-client"} <= _installed_set(("hub",))
