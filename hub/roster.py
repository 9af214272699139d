"""District rosters: read a district office's Excel/CSV list of residents, check every row, import.

This module owns the roster's public API and the documentation of its *file format*:
:func:`read_roster` (the dry run, reporting problems per row, in Korean, by the row number the
district sees in Excel) and :func:`apply_roster` (the valid rows applied to the hub through
:class:`RosterTarget`). Its parts live beside it: :mod:`hub.roster_format` (columns, limits,
messages, the report's types), :mod:`hub.roster_read` (bytes to a table) and
:mod:`hub.roster_check` (the table's rows checked). It owns no storage and no HTTP: the caller
passes the uploaded bytes in and a target (the hub core) for applying.

Format
------
One row per resident; the first row is the header. Column names may be English or Korean
(spaces, ``_`` and case do not matter; ``이름(name)`` style headers work too):

=================  ====================================  =========================================
column             Korean names accepted                 contents
=================  ====================================  =========================================
id                 아이디, 대상자ID, 관리번호              required; ``A-Z a-z 0-9 _ -``, ≤ 64
name               이름, 성명, 대상자명                    required, ≤ 100 characters
district           행정구역, 구, 구역, 자치구, 관할구역     required, ≤ 100 characters
phone              전화, 전화번호, 연락처, 휴대폰          optional: the resident's own number
address            주소                                   optional, ≤ 300 characters
guardian1_name     보호자1, 보호자1 이름                   optional; with guardian1_phone
guardian1_phone    보호자1 전화, 보호자1 연락처
guardian2_name     보호자2, 보호자2 이름                   optional; with guardian2_phone
guardian2_phone    보호자2 전화, 보호자2 연락처
official_name      담당 공무원, 담당자                     optional; with official_phone
official_phone     담당 공무원 전화, 담당자 전화
devices            기기, 장치                              optional: ``spk1:speaker; ph1:phone``
=================  ====================================  =========================================

* Phones: ``010-1234-5678``, ``02 123 4567``, ``+82 10 1234 5678``. Spaces, hyphens, dots and
  brackets are ignored; what remains is an optional ``+82`` and a domestic number of 9–11 digits
  starting with ``0``. Numbers are stored in E.164 (``+821012345678``), the form the API's own
  contacts use, so a guardian's SMS reply matches whichever way the number was entered.
  A 10-digit ``10…`` number is read as ``010…`` (Excel drops the leading 0 of a number typed
  without hyphens) and gets a warning.
* Devices: ``id:kind`` items separated by ``;`` ``,`` or a line break; kind is ``speaker``,
  ``phone`` or ``sensors`` (also 스피커, 휴대폰/스마트폰, 센서).
* Files: CSV in UTF-8 (with or without BOM), CP949 (Korean Excel's "CSV") or UTF-16 with BOM
  (Excel's "Unicode text"), comma-, tab- or semicolon-separated; or XLSX (first sheet).
  Legacy ``.xls`` is refused with a hint to save as ``.xlsx``.
* Fully empty rows are skipped (row numbers still count them, as Excel does); cells are
  trimmed. Title rows above the header are skipped with a warning. Unknown columns are ignored
  with a warning.

Decisions
---------
* ``errors`` reject a row; ``warnings`` do not. A resident without any device, or without a
  guardian, is imported with a warning: rosters usually arrive before the devices are
  installed. The warning says why it matters: with no device the hub hears no activity, so the
  inactivity alert opens after ``guardian_after``.
* A row's errors are all reported, in the order of the format's columns. A duplicate id is an
  error on the later row only. ``column`` is the header as written in the file (the canonical
  Korean name above when the column is missing); ``row`` 0 is about the whole file.
* Messages never echo phone numbers (the same rule as the delivery logs).
* A file with a missing required column, a repeated column or more than :data:`MAX_ROWS`
  rows yields no valid rows at all: importing part of an ambiguous file is worse than none.
* :func:`apply_roster` imports valid rows whose id is not in the hub yet and never updates an
  existing resident.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hub.roster_check import check_districts, check_table
from hub.roster_format import (
    DEVICE_KIND_WORDS,
    FIELDS,
    MAX_COLUMNS,
    MAX_ROWS,
    MSG_NOT_APPLIED,
    MSG_PARTLY_APPLIED,
    REQUIRED,
    RosterReport,
    RosterRow,
    RowError,
)
from hub.roster_read import Unreadable, read_table

if TYPE_CHECKING:
    from hub.districts import DistrictIndex

__all__ = [
    "DEVICE_KIND_WORDS",
    "FIELDS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "REQUIRED",
    "RosterReport",
    "RosterRow",
    "RosterTarget",
    "RowError",
    "apply_roster",
    "read_roster",
]


class RosterTarget(Protocol):
    """What applying a roster needs; the hub core (``hub.service.HubCore``) provides it."""

    def register_resident(self, data: Mapping[str, Any], now: datetime) -> dict[str, Any]: ...

    def register_device(
        self, resident_id: str, device_id: str, kind: str, now: datetime
    ) -> None: ...

    def add_contact(
        self,
        resident_id: str,
        role: str,
        name: str,
        phone: str,
        now: datetime,
        *,
        quiet_hours: str | None = None,
        backup: bool = False,
    ) -> int: ...

    def resident_exists(self, resident_id: str) -> bool: ...


def read_roster(data: bytes, filename: str, districts: DistrictIndex | None = None) -> RosterReport:
    """Read and check a roster file; never raises on bad content. With ``districts`` (the
    hub's), each row's district must name one of them and is given its canonical name."""
    try:
        table = read_table(data, filename)
    except Unreadable as exc:
        return RosterReport(rows=0, valid=[], errors=[RowError(0, None, exc.message)])
    report = check_table(table)
    return report if districts is None else check_districts(report, districts)


def apply_roster(
    report: RosterReport, target: RosterTarget, now: datetime, *, dry_run: bool = False
) -> dict[str, Any]:
    """Import the valid rows whose resident id is not in the hub yet.

    Existing residents are skipped, never updated: a roster is a list of who should be
    watched, and silently overwriting a guardian's number from an old file would be worse than
    asking the district to change it on the screen. Each resident is registered, then its
    contacts (so any alert already has someone to tell), then its devices. A row the target
    refuses midway is counted in ``failed`` and the others go on; the hub core commits each
    call on its own, so such a resident may exist with part of its contacts or devices, which
    the failure's message says. ``dry_run`` counts what would happen without writing.

    Returns ``created``, ``skipped_existing``, ``errors`` (the report's errors plus the failed
    rows, so an unreadable file is never "0 errors"), ``failed``, ``failures`` (row, id and
    message per failed row), ``created_ids``, ``skipped_ids`` and ``registered_devices``
    (``resident``, ``device``, ``kind`` of each device registered, a failed row's included:
    what :mod:`hub.roster_provision` gives broker credentials; in a dry run, those that
    would be).
    """
    created: list[str] = []
    skipped: list[str] = []
    failures: list[dict[str, Any]] = []
    devices: list[dict[str, str]] = []
    for row in report.valid:
        resident_id = str(row.resident["id"])
        if target.resident_exists(resident_id):
            skipped.append(resident_id)
            continue
        if dry_run:
            created.append(resident_id)
            devices += [_device(resident_id, device) for device in row.devices]
            continue
        registered = False
        try:
            target.register_resident(row.resident, now)
            registered = True
            for contact in row.contacts:
                target.add_contact(
                    resident_id, contact["role"], contact["name"], contact["phone"], now
                )
            for device in row.devices:
                target.register_device(resident_id, device["id"], device["kind"], now)
                devices.append(_device(resident_id, device))
        except Exception as exc:  # one refused row must not stop the rest of the district
            # Only the exception's type: its text may carry a database statement with phones.
            what = MSG_PARTLY_APPLIED if registered else MSG_NOT_APPLIED
            failures.append(
                {"row": row.row, "id": resident_id, "message": f"{what} ({type(exc).__name__})"}
            )
            continue
        created.append(resident_id)
    return {
        "created": len(created),
        "skipped_existing": len(skipped),
        "errors": len(report.errors) + len(failures),
        "failed": len(failures),
        "failures": failures,
        "created_ids": created,
        "skipped_ids": skipped,
        "registered_devices": devices,
        "dry_run": dry_run,
    }


def _device(resident_id: str, device: Mapping[str, Any]) -> dict[str, str]:
    return {"resident": resident_id, "device": str(device["id"]), "kind": str(device["kind"])}
