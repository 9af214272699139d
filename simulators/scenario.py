"""Scenario files: YAML descriptions of households and what happens to them, validated.

This module owns the file format documented in ``simulators/scenarios/README.md``:
:func:`load_scenario` reads one YAML file into a pydantic :class:`Scenario` and turns every
problem (bad YAML, unknown field, a time written without quotes, an incident after the last
day, a fault on a device the household lacks) into one :class:`ScenarioError` that names the
file and the path to the offending field. :meth:`Scenario.simulate` hands each household to
:func:`simulators.model.simulate`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulators.model import Household, Simulation, simulate

__all__ = ["Scenario", "ScenarioError", "load_scenario"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message lists every problem found."""


class Scenario(BaseModel):
    """Households simulated together from one local start date for ``days`` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    start: date = Field(description="first simulated day, local (Asia/Seoul)")
    days: int = Field(ge=1, le=366)
    seed: int = 0
    households: tuple[Household, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        seen: set[str] = set()
        for hh in self.households:
            if hh.resident in seen:
                raise ValueError(f"resident {hh.resident!r} appears twice")
            seen.add(hh.resident)
            for spec in (*hh.incidents, *hh.faults):
                if spec.day > self.days:
                    raise ValueError(
                        f"{hh.resident}: {spec.kind} on day {spec.day}, "
                        f"but the scenario lasts {self.days} days"
                    )
        return self

    def simulate(self) -> list[Simulation]:
        """One :class:`Simulation` per household, seeded from the scenario's seed."""
        return [simulate(hh, self.start, self.days, self.seed) for hh in self.households]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` on any problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A list whose every item failed also reports itself as too short; that echo only
        # hides the real problem, so it is left out when an item's own error is listed.
        inner = [e["loc"] for e in errors]
        errors = [
            e
            for e in errors
            if not (
                e["type"] == "too_short"
                and any(loc[: len(e["loc"])] == e["loc"] and loc != e["loc"] for loc in inner)
            )
        ]
        lines = [f"{path}: {len(errors)} problem(s):"]
        for err in errors:
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            lines.append(f"  {where}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from exc
