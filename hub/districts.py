"""Districts (시군구) as data: what a district name someone typed means, or why it means nothing.

Owns the resolution rules every entry point uses (resident registration, roster rows, API
users, reports, the CLI): a name is looked up in the hub's districts (the ``districts`` table,
seeded from ``hub/store/districts.csv``, the 시군구 of Korea with their 행정표준코드; see that
file for its source and date) and comes back as one :class:`District`, whose ``name`` is the
canonical one stored with residents and officials and shown in answers. Nothing else is
guessed:

* Spacing and width are normalised (NFKC, runs of spaces), and a 시도 prefix may come in
  any common form: ``서울 서대문구``, ``서울시 서대문구``, ``서울특별시서대문구`` are 서대문구;
  old names (강원도, 전라북도, 제주도) mean the current 시도.
* A 일반구 may be named alone or with its 시, with or without 시: ``분당구``, ``성남 분당구``,
  ``성남시 분당구``; 세종 may be ``세종시``.
* A name that several 시도 have (중구, 동구, 서구, 남구, 북구, 강서구, 고성군) needs its 시도,
  unless the hub serves one 시도 (``ANBU_SIDO``): then it means that 시도's. Otherwise it is an
  :class:`AmbiguousDistrictError` listing the candidates.
* Anything else is an :class:`UnknownDistrictError` with the closest names (difflib) suggested:
  ``강남`` is not 강남구, but the error asks whether 강남구 was meant.

The hub's own districts that are not in the national list (kept by the migration from free
text it could not map, ``verified = False``) resolve by their exact name only.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.store.db import Engine

__all__ = [
    "AmbiguousDistrictError",
    "District",
    "DistrictError",
    "DistrictIndex",
    "UnknownDistrictError",
    "index_in",
    "normalise_sido",
    "resolve_in",
    "seed_districts",
]

SEED_FILE = "districts.csv"
"""The seed's file name in the :mod:`hub.store` package."""

# Every 시도 with the forms people write it in; the first is the official name.
_SIDO_FORMS: tuple[tuple[str, ...], ...] = (
    ("서울특별시", "서울", "서울시"),
    ("부산광역시", "부산", "부산시"),
    ("대구광역시", "대구", "대구시"),
    ("인천광역시", "인천", "인천시"),
    ("광주광역시", "광주", "광주시"),
    ("대전광역시", "대전", "대전시"),
    ("울산광역시", "울산", "울산시"),
    ("세종특별자치시", "세종", "세종시"),
    ("경기도", "경기"),
    ("강원특별자치도", "강원", "강원도"),
    ("충청북도", "충북"),
    ("충청남도", "충남"),
    ("전북특별자치도", "전북", "전라북도", "전북도"),
    ("전라남도", "전남"),
    ("경상북도", "경북"),
    ("경상남도", "경남"),
    ("제주특별자치도", "제주", "제주도"),
)
_SIDO_OF_FORM: dict[str, str] = {form: forms[0] for forms in _SIDO_FORMS for form in forms}
# Longest first, so "서울특별시" is taken before "서울".
_SIDO_PREFIXES = sorted(_SIDO_OF_FORM, key=len, reverse=True)
_SPACES = re.compile(r"\s+")
_MAX_SUGGESTED = 3


@dataclass(frozen=True)
class District:
    """One district: its canonical name, 시도, 시군구 name and 행정표준코드 (when known)."""

    name: str
    sido: str | None
    sigungu: str
    code: str | None
    verified: bool = True

    def shown(self) -> str:
        """``'강남구'(서울특별시)``: how an error message names it."""
        if not self.verified or not self.sido:
            return f"'{self.name}'(미확인 구)"
        if self.name.startswith(self.sido):
            return f"'{self.name}'"
        return f"'{self.name}'({self.sido})"


class DistrictError(ValueError):
    """A district name that does not name exactly one district; ``message`` is Korean."""

    def __init__(self, text: str, message: str, suggestions: Iterable[District] = ()) -> None:
        super().__init__(message)
        self.text = text
        self.message = message
        self.suggestions = tuple(suggestions)


class UnknownDistrictError(DistrictError):
    """No district has that name; ``suggestions`` are the closest ones."""


class AmbiguousDistrictError(DistrictError):
    """Several 시도 have a district of that name; ``suggestions`` are all of them."""


def _clean(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def _compact(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def normalise_sido(text: str) -> str | None:
    """The official name of a 시도 written in any common form, or ``None``."""
    return _SIDO_OF_FORM.get(_compact(text))


def _keys(district: District) -> set[str]:
    """The compact forms a district answers to (within its 시도, or with none given)."""
    if not district.verified:
        return {_compact(district.name)}
    keys = {_compact(district.sigungu)}
    parts = district.sigungu.split(" ")
    if len(parts) == 2:  # 일반구: "성남시 분당구" answers to 분당구 and 성남분당구 too
        city, gu = parts
        keys |= {gu, city.removesuffix("시") + gu}
    if district.sido == district.sigungu:  # 세종특별자치시
        keys |= {_compact(form) for form in _SIDO_FORMS[7]}
    return keys


def seed_districts() -> list[District]:
    """The national list shipped with the hub (``hub/store/districts.csv``)."""
    text = resources.files("hub.store").joinpath(SEED_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [
        District(row["name"], row["sido"], row["sigungu"], row["code"] or None)
        for row in csv.DictReader(lines)
    ]


class DistrictIndex:
    """Resolves names against a list of districts; ``home_sido`` settles shared names."""

    def __init__(self, districts: Iterable[District], home_sido: str | None = None) -> None:
        self.districts = list(districts)
        self.home_sido = normalise_sido(home_sido) if home_sido else None
        self._by_name = {_compact(d.name): d for d in self.districts}
        self._by_key: dict[str, list[District]] = {}
        for district in self.districts:
            for key in _keys(district):
                self._by_key.setdefault(key, []).append(district)

    def resolve(self, text: str) -> District:
        """The one district ``text`` names; :class:`DistrictError` (Korean) otherwise."""
        shown = _clean(text)
        compact = _compact(text)
        if not compact:
            raise UnknownDistrictError(shown, "구 이름이 비어 있습니다 (예: '유성구', '서울 중구')")
        exact = self._by_name.get(compact)
        if exact is not None:
            return exact
        found = self._with_sido(compact) or self._by_key.get(compact, [])
        if len(found) > 1 and self.home_sido is not None:
            found = [d for d in found if d.sido == self.home_sido] or found
        if len(found) == 1:
            return found[0]
        if found:
            listed = ", ".join(d.name for d in found)
            example = f"{found[0].sido} {found[0].sigungu}"
            raise AmbiguousDistrictError(
                shown,
                f"'{shown}' 은(는) 여러 시도에 있습니다: {listed} — 시도를 함께 적어 주세요 "
                f"(예: '{example}')",
                found,
            )
        raise self._unknown(shown, compact)

    def _with_sido(self, compact: str) -> list[District]:
        """Matches of "시도 + 시군구" forms: the longest 시도 prefix that leaves a match."""
        for prefix in _SIDO_PREFIXES:
            rest = compact.removeprefix(prefix)
            if rest == compact or not rest:
                continue
            sido = _SIDO_OF_FORM[prefix]
            found = [d for d in self._by_key.get(rest, []) if d.sido == sido]
            if found:
                return found
        return []

    def _unknown(self, shown: str, compact: str) -> UnknownDistrictError:
        prefix = next((p for p in _SIDO_PREFIXES if compact.startswith(p) and compact != p), None)
        if prefix is not None:
            # A 시도 was given: suggest only its districts, or list them all.
            sido = _SIDO_OF_FORM[prefix]
            rest = compact.removeprefix(prefix)
            keys = {k: [d for d in ds if d.sido == sido] for k, ds in self._by_key.items()}
            keys = {k: ds for k, ds in keys.items() if ds}
            suggestions = self._closest(rest, keys)
            if not suggestions:
                names = ", ".join(sorted({d.name for ds in keys.values() for d in ds}))
                return UnknownDistrictError(
                    shown, f"알 수 없는 구: '{shown}' — {sido}의 시군구: {names}"
                )
        else:
            suggestions = self._closest(compact, self._by_key)
        if not suggestions:
            return UnknownDistrictError(
                shown,
                f"알 수 없는 구: '{shown}' — 시군구 이름으로 적어 주세요 "
                "(예: '유성구', '서울 중구')",
            )
        # Every 시도 and suggested name ends in 시, 도 or 구, so 를 (not 을) follows.
        options = " 또는 ".join(d.shown() for d in suggestions)
        return UnknownDistrictError(
            shown, f"알 수 없는 구: '{shown}' — {options}를 말씀하신 건가요?", suggestions
        )

    @staticmethod
    def _closest(text: str, keys: dict[str, list[District]]) -> list[District]:
        found: list[District] = []
        for key in difflib.get_close_matches(text, keys, n=_MAX_SUGGESTED, cutoff=0.6):
            found += [d for d in keys[key] if d not in found]
        return found[:_MAX_SUGGESTED]


def index_in(engine: Engine, home_sido: str | None = None) -> DistrictIndex:
    """The hub's districts (its ``districts`` table), to resolve names against."""
    from hub.store.db import reading
    from hub.store.districts import district_index

    with reading(engine) as conn:
        return district_index(conn, home_sido)


def resolve_in(engine: Engine, text: str, home_sido: str | None = None) -> District:
    """The district ``text`` names among the hub's; raises :class:`DistrictError` with the
    Korean message otherwise."""
    return index_in(engine, home_sido).resolve(text)
