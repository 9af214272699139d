"""Checking a roster table: finding the header, mapping its columns, validating each row.

Owns the dry run's rules: which row is the header (title rows above it are skipped), which
column is which field, and every check of a data row (ids, lengths, phones, contacts,
devices, repeated ids), each problem reported where the district will look for it. The
result is a :class:`~hub.roster_format.RosterReport`; nothing is written anywhere.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from hub.roster_format import (
    CONTACT_COLUMNS,
    DEVICE_KIND_WORDS,
    FIELDS,
    HEADER_SEARCH_ROWS,
    ID_RE,
    LIMITS,
    MAX_ECHO,
    MAX_ROWS,
    MSG_ABOVE_HEADER,
    MSG_BAD_ID,
    MSG_BAD_PHONE,
    MSG_DEVICE_FORMAT,
    MSG_DEVICE_ID,
    MSG_DEVICE_KIND,
    MSG_DEVICE_REPEATED,
    MSG_DUPLICATE_ID,
    MSG_EMPTY,
    MSG_MISSING_COLUMN,
    MSG_NAME_WITHOUT_PHONE,
    MSG_NO_DEVICE,
    MSG_NO_DISTRICT,
    MSG_NO_GUARDIAN,
    MSG_NO_HEADER,
    MSG_NO_ID,
    MSG_NO_NAME,
    MSG_NO_ROWS,
    MSG_PHONE_WITHOUT_NAME,
    MSG_REPEATED_COLUMN,
    MSG_TOO_LONG,
    MSG_TOO_MANY_ROWS,
    MSG_UNKNOWN_COLUMN,
    MSG_ZERO_RESTORED,
    REQUIRED,
    RosterReport,
    RosterRow,
    RowError,
    Table,
)
from protocol.vocab import PHONE_SEPARATORS, normalise_phone

if TYPE_CHECKING:
    from hub.districts import DistrictIndex

__all__ = ["check_districts", "check_table"]

_DEVICE_SPLIT = re.compile(r"[;,\n]")
_PARENTHESISED = re.compile(r"^(.*?)\((.*)\)$")


def _header_key(text: str) -> str:
    return re.sub(r"[\s_\-./]", "", text).lower()


_ALIASES: dict[str, str] = {
    _header_key(alias): name for name, (_, aliases) in FIELDS.items() for alias in aliases
}


def _field_of(header: str) -> str | None:
    found = _ALIASES.get(_header_key(header))
    if found is None and (match := _PARENTHESISED.match(header)):
        # "이름(name)" or "name(이름)": either part may be the known one.
        found = _ALIASES.get(_header_key(match.group(1))) or _ALIASES.get(
            _header_key(match.group(2))
        )
    return found


def check_table(table: Table) -> RosterReport:
    """The dry run of a table read from a roster file."""
    errors: list[RowError] = []
    warnings: list[RowError] = []
    if not table:
        return RosterReport(0, [], [RowError(0, None, MSG_EMPTY)])

    header_at = next(
        (
            i
            for i, (_, cells) in enumerate(table[:HEADER_SEARCH_ROWS])
            if sum(_field_of(c) is not None for c in cells if c) >= 2
        ),
        None,
    )
    if header_at is None:
        return RosterReport(0, [], [RowError(table[0][0], None, MSG_NO_HEADER)])
    warnings += [RowError(number, None, MSG_ABOVE_HEADER) for number, _ in table[:header_at]]
    header_row, header_cells = table[header_at]
    data = table[header_at + 1 :]
    if len(data) > MAX_ROWS:
        return RosterReport(len(data), [], [RowError(0, None, MSG_TOO_MANY_ROWS)])

    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    for position, text in enumerate(header_cells):
        if not text:
            continue
        name = _field_of(text)
        if name is None:
            warnings.append(RowError(header_row, text, MSG_UNKNOWN_COLUMN))
        elif name in index:
            errors.append(
                RowError(header_row, text, MSG_REPEATED_COLUMN.format(other=headers[name]))
            )
        else:
            index[name] = position
            headers[name] = text
    errors += [
        RowError(header_row, FIELDS[name][0], MSG_MISSING_COLUMN)
        for name in REQUIRED
        if name not in index
    ]
    if not data:
        errors.append(RowError(0, None, MSG_NO_ROWS))
    if errors:
        return RosterReport(len(data), [], errors, warnings)

    checker = _RowChecker(index, headers)
    valid = [row for row in (checker.check(n, cells) for n, cells in data) if row is not None]
    return RosterReport(len(data), valid, checker.errors, warnings + checker.warnings)


def check_districts(report: RosterReport, districts: DistrictIndex) -> RosterReport:
    """``report`` with every valid row's district resolved against the hub's districts.

    A row whose district names one district gets its canonical name (so "서울 서대문구" and
    "서대문구" are one district); a row whose district names none, or several, is moved to
    the errors with the Korean message and the closest names. Kept apart from
    :func:`check_table`, which needs no database.
    """
    from hub.districts import DistrictError

    valid: list[RosterRow] = []
    errors = list(report.errors)
    for row in report.valid:
        try:
            district = districts.resolve(row.resident["district"]).name
        except DistrictError as error:
            errors.append(RowError(row.row, FIELDS["district"][0], error.message))
            continue
        valid.append(dataclasses.replace(row, resident={**row.resident, "district": district}))
    errors.sort(key=lambda e: e.row)
    return dataclasses.replace(report, valid=valid, errors=errors)


class _Row:
    """One data row being checked: its cells by field, and what was found wrong with it."""

    def __init__(
        self, number: int, cells: list[str], index: dict[str, int], headers: dict[str, str]
    ) -> None:
        self.number = number
        self._cells = cells
        self._index = index
        self._headers = headers
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def value(self, name: str) -> str:
        position = self._index.get(name)
        return self._cells[position] if position is not None and position < len(self._cells) else ""

    def column(self, name: str) -> str:
        return self._headers.get(name, FIELDS[name][0])

    def error(self, name: str, message: str) -> None:
        self.errors.append(RowError(self.number, self.column(name), message))

    def warn(self, name: str | None, message: str) -> None:
        self.warnings.append(RowError(self.number, self.column(name) if name else None, message))

    def text(self, name: str, missing: str | None) -> str:
        """A text cell within its length limit; ``missing`` is the error when it is required."""
        value = self.value(name)
        if not value and missing:
            self.error(name, missing)
        elif len(value) > LIMITS[name]:
            self.error(name, MSG_TOO_LONG.format(limit=LIMITS[name]))
        return value

    def phone(self, name: str) -> str | None:
        compact = PHONE_SEPARATORS.sub("", self.value(name))
        if len(compact) == 10 and compact.startswith("10") and compact.isdigit():
            # Excel turns 01012345678 typed without hyphens into the number 1012345678.
            # Only the 010 mobile case is restored: for other lengths the lost digit is a guess.
            self.warn(name, MSG_ZERO_RESTORED)
            compact = "0" + compact
        e164 = normalise_phone(compact)
        if e164 is None:
            self.error(name, MSG_BAD_PHONE)
        return e164


class _RowChecker:
    """Checks data rows in order; remembers ids to report a repeat on the later row."""

    def __init__(self, index: dict[str, int], headers: dict[str, str]) -> None:
        self._index = index
        self._headers = headers
        self._first_row: dict[str, int] = {}
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def check(self, number: int, cells: list[str]) -> RosterRow | None:
        row = _Row(number, cells, self._index, self._headers)
        resident = self._resident(row)
        contacts = self._contacts(row)
        devices = self._devices(row)
        self.warnings += row.warnings
        if row.errors:
            self.errors += row.errors
            return None
        if not devices:
            self.warnings.append(RowError(number, row.column("devices"), MSG_NO_DEVICE))
        if not any(c["role"] == "guardian" for c in contacts):
            self.warnings.append(RowError(number, None, MSG_NO_GUARDIAN))
        return RosterRow(number, resident, contacts, devices)

    def _resident(self, row: _Row) -> dict[str, Any]:
        resident_id = row.value("id")
        if not resident_id:
            row.error("id", MSG_NO_ID)
        elif not ID_RE.match(resident_id):
            row.error("id", MSG_BAD_ID)
        elif resident_id in self._first_row:
            row.error("id", MSG_DUPLICATE_ID.format(first=self._first_row[resident_id]))
        else:
            self._first_row[resident_id] = row.number
        resident: dict[str, Any] = {
            "id": resident_id,
            "name": row.text("name", MSG_NO_NAME),
            "district": row.text("district", MSG_NO_DISTRICT),
        }
        if row.value("phone") and (phone := row.phone("phone")):
            resident["phone"] = phone
        if address := row.text("address", None):
            resident["address"] = address
        return resident

    @staticmethod
    def _contacts(row: _Row) -> list[dict[str, Any]]:
        contacts: list[dict[str, Any]] = []
        for role, name_column, phone_column in CONTACT_COLUMNS:
            name, raw_phone = row.value(name_column), row.value(phone_column)
            if name and not raw_phone:
                row.error(phone_column, MSG_NAME_WITHOUT_PHONE)
            elif raw_phone and not name:
                row.error(name_column, MSG_PHONE_WITHOUT_NAME)
            elif name:
                if len(name) > LIMITS["name"]:
                    row.error(name_column, MSG_TOO_LONG.format(limit=LIMITS["name"]))
                if phone := row.phone(phone_column):
                    contacts.append({"role": role, "name": name, "phone": phone})
        return contacts

    @staticmethod
    def _devices(row: _Row) -> list[dict[str, Any]]:
        devices: list[dict[str, Any]] = []
        seen: set[str] = set()
        text = row.value("devices").replace("：", ":").replace("；", ";").replace("，", ",")
        for item in (part.strip() for part in _DEVICE_SPLIT.split(text)):
            if not item:
                continue
            shown = item[:MAX_ECHO]
            device_id, colon, kind_text = (s.strip() for s in item.partition(":"))
            if not colon or not device_id or not kind_text:
                row.error("devices", MSG_DEVICE_FORMAT.format(item=shown))
                continue
            kind = DEVICE_KIND_WORDS.get(kind_text.lower())
            problems = [
                message
                for message, bad in (
                    (MSG_DEVICE_ID, not ID_RE.match(device_id)),
                    (MSG_DEVICE_KIND, kind is None),
                    (MSG_DEVICE_REPEATED, device_id in seen),
                )
                if bad
            ]
            for message in problems:
                row.error("devices", message.format(item=shown))
            seen.add(device_id)
            if not problems:
                devices.append({"id": device_id, "kind": kind})
        return devices
