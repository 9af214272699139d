"""Reading a roster file's bytes into a table of trimmed cells, whatever Excel saved it as.

Owns telling XLSX from CSV by content, reading the first sheet of an XLSX, decoding a CSV
(UTF-8 with or without BOM, CP949, UTF-16 with BOM) and guessing its separator, and the
limits on how much is read: an XLSX's declared unpacked size and part count are checked
before it is opened (a zip bomb is refused unread), and its sheet is read for at most
``MAX_SHEET_ROWS`` rows, empty ones included. It does not know what the columns mean: that is
:mod:`hub.roster_check`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time

from hub.roster_format import (
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SHEET_ROWS,
    MAX_XLSX_PARTS,
    MAX_XLSX_UNCOMPRESSED,
    MSG_BAD_CSV,
    MSG_BAD_ENCODING,
    MSG_BAD_XLSX,
    MSG_EMPTY,
    MSG_TOO_MANY_ROWS,
    MSG_TOO_MANY_SHEET_ROWS,
    MSG_XLS,
    MSG_XLSX_TOO_BIG,
    Table,
)

__all__ = ["Unreadable", "read_table"]


class Unreadable(Exception):  # noqa: N818 - a reason to stop, carried to one RowError(row=0)
    """The file cannot be read as a table; ``message`` is for the district."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_table(data: bytes, filename: str) -> Table:
    """The non-empty rows of ``data``; raises :class:`Unreadable` when it is no table."""
    name = filename.lower()
    # Content decides over the name: a district may well rename an .xlsx to .csv.
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise Unreadable(MSG_XLS)
    if name.endswith((".xlsx", ".xlsm")):
        raise Unreadable(MSG_BAD_XLSX)
    return _read_csv(data)


def _check_zip(data: bytes) -> None:
    """Refuse, before anything is unpacked, a workbook that would unpack too big."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Unreadable(MSG_BAD_XLSX) from exc
    if len(parts) > MAX_XLSX_PARTS:
        raise Unreadable(MSG_XLSX_TOO_BIG)
    if sum(part.file_size for part in parts) > MAX_XLSX_UNCOMPRESSED:
        raise Unreadable(MSG_XLSX_TOO_BIG)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    _check_zip(data)
    try:
        # data_only: formulas are read as the values Excel last computed, which is what the
        # district sees on screen.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, …) on damage
        raise Unreadable(MSG_BAD_XLSX) from exc
    try:
        if not book.worksheets:
            raise Unreadable(MSG_EMPTY)
        sheet = book.worksheets[0]
        # Some generators write a wrong <dimension>; read-only mode would trust it and stop
        # early, so the sheet is read to its real end.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        return _collect(_capped(rows))
    except Unreadable:
        raise
    except Exception as exc:  # a broken sheet part surfaces only while iterating
        raise Unreadable(MSG_BAD_XLSX) from exc
    finally:
        book.close()


def _capped(rows: Iterable[tuple[object, ...]]) -> Iterable[tuple[int, list[str]]]:
    """Numbered rows of cells, stopping with a reason past ``MAX_SHEET_ROWS`` rows read."""
    for number, values in enumerate(rows, 1):
        if number > MAX_SHEET_ROWS:
            raise Unreadable(MSG_TOO_MANY_SHEET_ROWS)
        yield number, [_cell(v) for v in values]


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
        raise Unreadable(MSG_BAD_CSV) from exc


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Unreadable(MSG_BAD_ENCODING) from exc
    # UTF-8 first: it is strict enough that CP949 Korean text practically never decodes as
    # UTF-8, while CP949 would happily decode UTF-8 bytes into the wrong syllables.
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            # Binary content that happened to decode; the csv module would choke on it.
            raise Unreadable(MSG_BAD_CSV)
        return text
    raise Unreadable(MSG_BAD_ENCODING)


def _collect(rows: Iterable[tuple[int, list[str]]]) -> Table:
    table: Table = []
    for number, cells in rows:
        if any(cells):
            table.append((number, cells))
            # Header plus MAX_ROWS data rows, plus a few title rows; stop reading a huge file
            # early instead of holding it all.
            if len(table) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise Unreadable(MSG_TOO_MANY_ROWS)
    return table
