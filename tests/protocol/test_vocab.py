"""One vocabulary (protocol/vocab.py): each domain set is defined once, and the modules that
use it take it from there. The test reads the source tree for copies of the sets."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from hub.api.schemas import ContactIn, ResolveIn
from protocol import vocab

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "alerts", "hub", "edge", "simulators")
SETS = {
    "device kinds": set(vocab.DEVICE_KINDS),
    "contact roles": set(vocab.CONTACT_ROLES),
    "staff roles": set(vocab.STAFF_ROLES),
    "alert kinds": set(vocab.ALERT_KINDS),
    "stages": set(vocab.STAGES),
    "outcomes": set(vocab.OUTCOMES),
}


def _literal_sets(path: Path) -> list[tuple[int, set[str]]]:
    """Every ``Literal[...]`` of strings and every tuple/set/frozenset display of strings."""
    found = []
    inside_literal: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items: list[ast.expr] | None = None
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            inner = node.slice
            inside_literal.add(id(inner))
            items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        elif isinstance(node, ast.Tuple | ast.Set | ast.List) and id(node) not in inside_literal:
            items = list(node.elts)
        if items and all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
            found.append((node.lineno, {i.value for i in items}))  # type: ignore[attr-defined]
    return found


def test_each_vocabulary_set_is_defined_once() -> None:
    where: dict[str, list[str]] = {name: [] for name in SETS}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, values in _literal_sets(path):
                for name, members in SETS.items():
                    if values == members:
                        where[name].append(f"{path.relative_to(ROOT)}:{line}")
    assert where == {name: [f"protocol/vocab.py:{_line_of(name)}"] for name in SETS}, where


def _line_of(name: str) -> int:
    literal = {
        "device kinds": "DeviceKind = ",
        "contact roles": "ContactRole = ",
        "staff roles": "StaffRole = ",
        "alert kinds": "AlertKind = ",
        "stages": "Stage = ",
        "outcomes": "Outcome = ",
    }[name]
    text = (ROOT / "protocol" / "vocab.py").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(text, start=1) if line.startswith(literal))


def test_the_zone_and_the_id_pattern_are_written_once() -> None:
    for needle in ('"Asia/Seoul"', "[A-Za-z0-9_-]{1,64}", "timedelta(hours=9)"):
        hits = [
            str(path.relative_to(ROOT))
            for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))
            if needle in path.read_text(encoding="utf-8")
        ]
        assert hits == ["protocol/vocab.py"], (needle, hits)


@pytest.mark.parametrize("outcome", vocab.OUTCOMES)
def test_staff_can_close_an_alert_with_every_outcome(outcome: str) -> None:
    # resolved_by_guardian was used by three modules and refused by the API.
    assert ResolveIn.model_validate({"outcome": outcome}).outcome == outcome


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("010-1234-5678", "+821012345678"), ("+82-10-1234-5678", "+821012345678")],
)
def test_a_contact_s_number_is_kept_in_e164(typed: str, stored: str) -> None:
    contact = ContactIn.model_validate({"role": "guardian", "name": "김철수", "phone": typed})
    assert contact.phone == stored


def test_the_literal_types_are_the_sets() -> None:
    assert set(get_args(vocab.DeviceKind)) == {"speaker", "phone", "sensors"}
