"""Roster uploads are bounded: size-checked while they stream in, and an XLSX is checked for
what it would unpack to (a zip bomb is refused unread) and for how many rows it makes the
reader walk. Over HTTP on a running hub (each database), and the reader on its own.
"""

from __future__ import annotations

import io
import select
import socket
import time
import tracemalloc
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest
from openpyxl import Workbook

from hub.roster import read_roster
from hub.roster_format import (
    MAX_SHEET_ROWS,
    MAX_UPLOAD_BYTES,
    MAX_XLSX_PARTS,
    MSG_TOO_MANY_SHEET_ROWS,
    MSG_UPLOAD_TOO_LARGE,
    MSG_XLSX_TOO_BIG,
)
from tests.hub.support import ADMIN_TOKEN

HEADER = ["id", "이름", "행정구역", "기기"]
ROW = ["r1001", "김영희", "유성구", "spk1:speaker"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_parts(data: bytes, parts: dict[str, bytes]) -> bytes:
    """``data`` (an XLSX) with ``parts`` added or replaced, deflated."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            if item.filename not in parts:
                target.writestr(item, source.read(item.filename))
        for name, body in parts.items():
            target.writestr(name, body)
    return out.getvalue()


def bomb() -> bytes:
    """A roster whose sheet unpacks to 200 MB (about 200 KB packed): one cell's text, which
    the reader would hold in memory whole (twice over, as XML text and as the cell)."""
    data = workbook([HEADER, ROW, ["BIG"]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    huge = sheet.replace(b"<t>BIG</t>", b"<t>" + b"a" * (200 * 1024 * 1024) + b"</t>")
    return with_parts(data, {"xl/worksheets/sheet1.xml": huge})


def far_row() -> bytes:
    """A roster whose sheet has one more cell, in the last row Excel has (1,048,576)."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData>"
        '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>이름</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>행정구역</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>r1001</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>김영희</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>유성구</t></is></c></row>'
        '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    return with_parts(workbook([["placeholder"]]), {"xl/worksheets/sheet1.xml": sheet.encode()})


def only_error(report: Any) -> str:
    assert report.valid == []
    [error] = report.errors
    assert error.row == 0
    return str(error.message)


# --- the reader ----------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_without_unpacking_it() -> None:
    data = bomb()
    assert len(data) < 1024 * 1024

    tracemalloc.start()
    try:
        report = read_roster(data, "명단.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert only_error(report) == MSG_XLSX_TOO_BIG
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.0f} MB held while refusing a bomb"


def test_too_many_parts_are_refused() -> None:
    parts = {f"xl/media/p{i}.bin": b"" for i in range(MAX_XLSX_PARTS)}
    report = read_roster(with_parts(workbook([HEADER, ROW]), parts), "명단.xlsx")

    assert only_error(report) == MSG_XLSX_TOO_BIG


def test_a_far_away_last_row_stops_the_reader_early() -> None:
    started = time.monotonic()
    report = read_roster(far_row(), "명단.xlsx")

    assert only_error(report) == MSG_TOO_MANY_SHEET_ROWS
    assert str(MAX_SHEET_ROWS)[:3] in MSG_TOO_MANY_SHEET_ROWS
    assert time.monotonic() - started < 10


def test_an_ordinary_workbook_is_still_read() -> None:
    report = read_roster(workbook([HEADER, ROW]), "명단.xlsx")

    assert [row.resident["id"] for row in report.valid] == ["r1001"]


# --- over HTTP -----------------------------------------------------------------------------


def _connect(running: Any) -> socket.socket:
    address = urlsplit(running.base)
    assert address.hostname is not None and address.port is not None
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _head(length: str | None) -> bytes:
    lines = [
        "POST /api/v1/roster?filename=roster.csv HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "Content-Type: text/csv",
        f"Content-Length: {length}" if length else "Transfer-Encoding: chunked",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _whole(conn: socket.socket, start: bytes) -> bytes:
    """The response that begins with ``start``, read to the end of its body."""
    conn.settimeout(10)
    answer = start
    while b"\r\n\r\n" not in answer:
        answer += conn.recv(65536)
    head, body = answer.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def _answered(conn: socket.socket) -> bytes:
    ready, _, _ = select.select([conn], [], [], 0)
    return conn.recv(65536) if ready else b""


def test_a_declared_oversize_upload_is_refused_before_its_body(start_hub: Any) -> None:
    running = start_hub()
    with _connect(running) as conn:
        conn.sendall(_head(str(MAX_UPLOAD_BYTES + 1)))  # and not one byte of the body
        answer = _whole(conn, b"")

    assert answer.startswith(b"HTTP/1.1 413")
    assert MSG_UPLOAD_TOO_LARGE.encode() in answer


def test_a_streamed_upload_is_cut_off_at_the_limit(start_hub: Any) -> None:
    running = start_hub()
    chunk = (b"r1001,\xea\xb9\x80,x\n" * 65536)[: 1024 * 1024]  # 1 MiB of CSV lines
    sent = 0
    answer = b""
    with _connect(running) as conn:
        conn.sendall(_head(None))
        # Up to three times the limit; a server that reads the whole body first answers only
        # at its end, which never comes.
        while sent < 3 * MAX_UPLOAD_BYTES and not answer:
            try:
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
            deadline = time.monotonic() + 0.05
            while not answer and time.monotonic() < deadline:
                answer = _answered(conn)
        answer = _whole(conn, answer)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert MSG_UPLOAD_TOO_LARGE.encode() in answer
    assert sent <= MAX_UPLOAD_BYTES + 2 * len(chunk), f"{sent / 1e6:.0f} MB sent before the 413"


def test_a_zip_bomb_upload_gets_a_korean_row_error(start_hub: Any) -> None:
    running = start_hub()
    response = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.xlsx"},
        content=bomb(),
        headers={"Content-Type": XLSX},
    )

    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert report["errors"] == [{"row": 0, "column": None, "message": MSG_XLSX_TOO_BIG}]
    assert running.http.get("/api/v1/residents").json() == []


@pytest.mark.parametrize("size", [MAX_UPLOAD_BYTES], ids=["at-the-limit"])
def test_an_upload_at_the_limit_is_read(start_hub: Any, size: int) -> None:
    running = start_hub()
    body = ("id,이름,행정구역\n" + "r1,김영희,유성구\n" * size).encode()[:size]
    response = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv"},
        content=body,
        headers={"Content-Type": "text/csv"},
    )

    assert response.status_code == 200, response.text[:300]
