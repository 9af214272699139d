"""District rosters: read a district office's Excel/CSV list of residents, check every row, import.

This module owns the roster *file format*, its validation (a dry run that reports problems per
row, in Korean, by the row number the district sees in Excel) and applying the valid rows to
the hub through :class:`RosterTarget`. It owns no storage and no HTTP: the caller passes the
uploaded bytes in and a target (the hub core) for applying.

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

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol

from protocol.vocab import ID_PATTERN, PHONE_SEPARATORS, normalise_phone

MAX_ROWS = 20_000
# Extra columns beyond this are notes a district keeps; never roster data.
MAX_COLUMNS = 100
# Title rows ("○○구 독거어르신 명단") sometimes sit above the header; never this many.
HEADER_SEARCH_ROWS = 10
MAX_ECHO = 30

ID_RE = ID_PATTERN
_DEVICE_SPLIT = re.compile(r"[;,\n]")
_PARENTHESISED = re.compile(r"^(.*?)\((.*)\)$")

DEVICE_KINDS: dict[str, str] = {
    "speaker": "speaker",
    "스피커": "speaker",
    "phone": "phone",
    "휴대폰": "phone",
    "스마트폰": "phone",
    "sensors": "sensors",
    "sensor": "sensors",
    "센서": "sensors",
}

# field -> (label shown when the column is missing, accepted header names)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "id": ("id", ("id", "아이디", "대상자id", "관리번호")),
    "name": ("이름", ("name", "이름", "성명", "대상자명", "대상자이름")),
    "district": ("행정구역", ("district", "행정구역", "구", "구역", "자치구", "관할구역")),
    "phone": ("전화", ("phone", "전화", "전화번호", "연락처", "휴대폰", "본인전화", "본인연락처")),
    "address": ("주소", ("address", "주소")),
    "guardian1_name": (
        "보호자1",
        ("guardian1_name", "guardian1", "보호자1", "보호자1 이름", "보호자1 성명"),
    ),
    "guardian1_phone": (
        "보호자1 전화",
        ("guardian1_phone", "보호자1 전화", "보호자1 전화번호", "보호자1 연락처"),
    ),
    "guardian2_name": (
        "보호자2",
        ("guardian2_name", "guardian2", "보호자2", "보호자2 이름", "보호자2 성명"),
    ),
    "guardian2_phone": (
        "보호자2 전화",
        ("guardian2_phone", "보호자2 전화", "보호자2 전화번호", "보호자2 연락처"),
    ),
    "official_name": (
        "담당 공무원",
        ("official_name", "official", "담당 공무원", "담당 공무원 이름", "담당자", "담당자 이름"),
    ),
    "official_phone": (
        "담당 공무원 전화",
        (
            "official_phone",
            "담당 공무원 전화",
            "담당 공무원 전화번호",
            "담당 공무원 연락처",
            "담당자 전화",
            "담당자 연락처",
        ),
    ),
    "devices": ("기기", ("devices", "device", "기기", "장치", "기기 목록")),
}
REQUIRED = ("id", "name", "district")
CONTACT_COLUMNS = (
    ("guardian", "guardian1_name", "guardian1_phone"),
    ("guardian", "guardian2_name", "guardian2_phone"),
    ("official", "official_name", "official_phone"),
)
LIMITS = {"name": 100, "district": 100, "address": 300}

# Messages: the district reads these, so they are Korean and never contain a phone number.
MSG_BAD_PHONE = "전화번호 형식이 올바르지 않습니다"
MSG_NO_ID = "ID가 없습니다"
MSG_BAD_ID = "ID에는 영문, 숫자, _, -만 쓸 수 있습니다 (64자 이하)"
MSG_NO_NAME = "이름이 없습니다"
MSG_NO_DISTRICT = "행정구역이 없습니다"
MSG_TOO_LONG = "{limit}자를 넘습니다"
MSG_DUPLICATE_ID = "ID가 중복됩니다 ({first}행과 같음)"
MSG_NAME_WITHOUT_PHONE = "이름은 있지만 전화번호가 없습니다"
MSG_PHONE_WITHOUT_NAME = "전화번호는 있지만 이름이 없습니다"
MSG_ZERO_RESTORED = "앞자리 0이 빠진 번호라 010으로 읽었습니다 — 맞는지 확인해 주세요"
MSG_NO_DEVICE = (
    "기기가 없습니다 — 기기를 등록하기 전까지 활동 신호가 없어 무활동 알림이 열릴 수 있습니다"
)
MSG_NO_GUARDIAN = "보호자가 없습니다 — 알림은 담당 공무원과 관제센터로만 갑니다"
MSG_DEVICE_FORMAT = "기기 '{item}': '아이디:종류' 형식이어야 합니다 (예: spk1:speaker)"
MSG_DEVICE_ID = "기기 '{item}': 아이디에는 영문, 숫자, _, -만 쓸 수 있습니다 (64자 이하)"
MSG_DEVICE_KIND = "기기 '{item}': 종류는 speaker, phone, sensors 중 하나여야 합니다"
MSG_DEVICE_REPEATED = "기기 '{item}': 같은 아이디가 두 번 나옵니다"
MSG_MISSING_COLUMN = "필수 열이 없습니다"
MSG_REPEATED_COLUMN = "같은 열이 두 번 있습니다 ('{other}'와 같은 항목)"
MSG_UNKNOWN_COLUMN = "알 수 없는 열이라 무시합니다"
MSG_ABOVE_HEADER = "머리글 위의 행이라 건너뜁니다"
MSG_NO_HEADER = (
    "머리글 행을 찾을 수 없습니다 — 첫 행에 id, 이름, 행정구역 같은 열 이름을 적어 주세요"
)
MSG_EMPTY = "파일이 비어 있습니다"
MSG_NO_ROWS = "머리글 아래에 대상자 행이 없습니다"
MSG_TOO_MANY_ROWS = f"행이 너무 많습니다 (최대 {MAX_ROWS}행) — 파일을 나눠 주세요"
MSG_BAD_XLSX = "엑셀(.xlsx) 파일을 읽을 수 없습니다 — 파일이 손상되었거나 다른 형식입니다"
MSG_XLS = "엑셀 97-2003(.xls) 파일은 읽을 수 없습니다 — .xlsx 또는 CSV로 저장해 주세요"
MSG_BAD_ENCODING = "CSV 파일의 글자 인코딩을 알 수 없습니다 — UTF-8 또는 CP949로 저장해 주세요"
MSG_NOT_APPLIED = "등록되지 않았습니다"
MSG_PARTLY_APPLIED = (
    "대상자는 등록되었지만 연락처나 기기 일부가 빠졌을 수 있습니다 — 화면에서 확인해 주세요"
)
MSG_BAD_CSV = "CSV 파일을 읽을 수 없습니다 — 따옴표나 특수 문자를 확인해 주세요"


@dataclass(frozen=True)
class RowError:
    """One problem, where the district will look for it.

    ``row`` is 1-based as Excel shows it (the header is row 1); 0 means the whole file.
    """

    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class RosterRow:
    """A row that passed every check, in the shapes the hub core takes."""

    row: int
    resident: dict[str, Any]
    contacts: list[dict[str, Any]]
    devices: list[dict[str, Any]]


@dataclass(frozen=True)
class RosterReport:
    """The dry run: every non-empty data row is either in ``valid`` or has ``errors``."""

    rows: int
    valid: list[RosterRow]
    errors: list[RowError]
    warnings: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Data rows that will not be imported (all of them after a header problem)."""
        return self.rows - len(self.valid)

    def as_dict(self) -> dict[str, Any]:
        """JSON for the dry-run screen. Phone numbers are left out: the screen shows counts."""
        return {
            "rows": self.rows,
            "valid": len(self.valid),
            "rejected": self.rejected,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
            "residents": [
                {
                    "row": r.row,
                    "id": r.resident["id"],
                    "name": r.resident["name"],
                    "district": r.resident["district"],
                    "guardians": sum(c["role"] == "guardian" for c in r.contacts),
                    "officials": sum(c["role"] == "official" for c in r.contacts),
                    "devices": [dict(d) for d in r.devices],
                }
                for r in self.valid
            ],
        }


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


class _Unreadable(Exception):  # noqa: N818 - a reason to stop, carried to one RowError(row=0)
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# A table is (Excel row number, trimmed cells) for every non-empty row.
Table = list[tuple[int, list[str]]]


# ------------------------------------------------------------------------------- reading


def read_roster(data: bytes, filename: str) -> RosterReport:
    """Read and check a roster file; never raises on bad content."""
    try:
        table = _read_table(data, filename)
    except _Unreadable as exc:
        return RosterReport(rows=0, valid=[], errors=[RowError(0, None, exc.message)])
    return _check_table(table)


def _read_table(data: bytes, filename: str) -> Table:
    name = filename.lower()
    # Content decides over the name: a district may well rename an .xlsx to .csv.
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise _Unreadable(MSG_XLS)
    if name.endswith((".xlsx", ".xlsm")):
        raise _Unreadable(MSG_BAD_XLSX)
    return _read_csv(data)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        # data_only: formulas are read as the values Excel last computed, which is what the
        # district sees on screen.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, …) on damage
        raise _Unreadable(MSG_BAD_XLSX) from exc
    try:
        if not book.worksheets:
            raise _Unreadable(MSG_EMPTY)
        sheet = book.worksheets[0]
        # Some generators write a wrong <dimension>; read-only mode would trust it and stop
        # early, so the sheet is read to its real end.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        return _collect(
            (number, [_cell(v) for v in values]) for number, values in enumerate(rows, 1)
        )
    except _Unreadable:
        raise
    except Exception as exc:  # a broken sheet part surfaces only while iterating
        raise _Unreadable(MSG_BAD_XLSX) from exc
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        # An id or phone typed as a number comes back as 1001.0; the district typed 1001.
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    # Excel writes ',' for "CSV", tab for "Unicode text", ';' in some locales; the header
    # line never contains the other two.
    delimiter = max(",\t;", key=first.count) if first else ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        # One record is one Excel row even when a quoted cell holds a line break.
        return _collect(
            (number, [cell.strip() for cell in record[:MAX_COLUMNS]])
            for number, record in enumerate(reader, 1)
        )
    except csv.Error as exc:
        raise _Unreadable(MSG_BAD_CSV) from exc


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _Unreadable(MSG_BAD_ENCODING) from exc
    # UTF-8 first: it is strict enough that CP949 Korean text practically never decodes as
    # UTF-8, while CP949 would happily decode UTF-8 bytes into the wrong syllables.
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            # Binary content that happened to decode; the csv module would choke on it.
            raise _Unreadable(MSG_BAD_CSV)
        return text
    raise _Unreadable(MSG_BAD_ENCODING)


def _collect(rows: Iterable[tuple[int, list[str]]]) -> Table:
    table: Table = []
    for number, cells in rows:
        if any(cells):
            table.append((number, cells))
            # Header plus MAX_ROWS data rows, plus a few title rows; stop reading a huge file
            # early instead of holding it all.
            if len(table) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise _Unreadable(MSG_TOO_MANY_ROWS)
    return table


# ------------------------------------------------------------------------------- checking


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


def _check_table(table: Table) -> RosterReport:
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
            kind = DEVICE_KINDS.get(kind_text.lower())
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


# ------------------------------------------------------------------------------- applying


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
    message per failed row), ``created_ids`` and ``skipped_ids``.
    """
    created: list[str] = []
    skipped: list[str] = []
    failures: list[dict[str, Any]] = []
    for row in report.valid:
        resident_id = str(row.resident["id"])
        if target.resident_exists(resident_id):
            skipped.append(resident_id)
            continue
        if dry_run:
            created.append(resident_id)
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
        "dry_run": dry_run,
    }
