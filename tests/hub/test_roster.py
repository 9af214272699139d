"""District rosters: CSV (UTF-8 with/without BOM, CP949) and XLSX read the same, every bad row
is reported where the district will look for it, and applying imports only new residents."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from hub.roster import (
    MAX_ROWS,
    RosterReport,
    RosterRow,
    RosterTarget,
    RowError,
    apply_roster,
    read_roster,
)
from protocol.vocab import normalise_phone

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "roster-sample.csv"

KOREAN_HEADER = (
    "id,이름,행정구역,전화,주소,보호자1,보호자1 전화,보호자2,보호자2 전화,"
    "담당 공무원,담당 공무원 전화,기기"
)
KOREAN_ROWS = [
    "gn-1, 김순자 ,강남구,02-555-0101,서울 강남구 예시로 1,이민수,010-1234-5678,"
    "이지은,+82 10 2345 6789,박주무관,02-3423-0000,spk1:speaker; ph1:phone; zb1:sensors",
    ",,,,,,,,,,,",
    'gn-2,최영길,강남구,,"서울 강남구 예시로 2, 101호",최하나,010 3456 7890,,,,,spk2:스피커',
]
KOREAN_CSV = "\r\n".join([KOREAN_HEADER, *KOREAN_ROWS]) + "\r\n"

EXPECTED_VALID = [
    RosterRow(
        row=2,
        resident={
            "id": "gn-1",
            "name": "김순자",
            "district": "강남구",
            "phone": "+8225550101",
            "address": "서울 강남구 예시로 1",
        },
        contacts=[
            {"role": "guardian", "name": "이민수", "phone": "+821012345678"},
            {"role": "guardian", "name": "이지은", "phone": "+821023456789"},
            {"role": "official", "name": "박주무관", "phone": "+82234230000"},
        ],
        devices=[
            {"id": "spk1", "kind": "speaker"},
            {"id": "ph1", "kind": "phone"},
            {"id": "zb1", "kind": "sensors"},
        ],
    ),
    RosterRow(
        row=4,
        resident={
            "id": "gn-2",
            "name": "최영길",
            "district": "강남구",
            "address": "서울 강남구 예시로 2, 101호",
        },
        contacts=[{"role": "guardian", "name": "최하나", "phone": "+821034567890"}],
        devices=[{"id": "spk2", "kind": "speaker"}],
    ),
]


# ------------------------------------------------------------------------------- formats


def test_utf8_csv_with_bom_and_korean_headers() -> None:
    report = read_roster(b"\xef\xbb\xbf" + KOREAN_CSV.encode("utf-8"), "명단.csv")
    assert report.errors == []
    assert report.warnings == []
    # The fully empty row 3 is skipped but still counts, so gn-2 is row 4 as in Excel.
    assert report.rows == 2
    assert report.valid == EXPECTED_VALID


def test_cp949_csv_reads_the_same_as_utf8() -> None:
    data = KOREAN_CSV.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test really is about a non-UTF-8 file
    report = read_roster(data, "명단.csv")
    assert report.errors == []
    assert report.valid == EXPECTED_VALID


def test_utf8_without_bom_english_headers_and_tabs() -> None:
    text = (
        "id\tname\tdistrict\tguardian1_name\tguardian1_phone\tdevices\n"
        "r1\tKim\tJongno-gu\tLee\t010-1111-2222\tspk1:speaker\n"
    )
    report = read_roster(text.encode("utf-8"), "roster.txt")
    assert report.errors == []
    assert [r.resident for r in report.valid] == [
        {"id": "r1", "name": "Kim", "district": "Jongno-gu"}
    ]
    assert report.valid[0].contacts == [
        {"role": "guardian", "name": "Lee", "phone": "+821011112222"}
    ]


def test_utf16_unicode_text_from_excel() -> None:
    text = KOREAN_CSV.replace(",", "\t")
    # The quoted address holds a comma that became a tab; put it back inside the quotes.
    text = text.replace('"서울 강남구 예시로 2\t 101호"', '"서울 강남구 예시로 2, 101호"')
    report = read_roster(text.encode("utf-16"), "명단.txt")
    assert report.errors == []
    assert report.valid == EXPECTED_VALID


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for number, values in enumerate(rows, 1):
        for column, value in enumerate(values, 1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    book.create_sheet("메모").append(["id", "이름", "행정구역"])  # only the first sheet counts
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_first_sheet_with_title_row_numbers_and_empty_rows() -> None:
    data = _xlsx(
        [
            ["강남구 독거어르신 명단 (2026년 11월)"],
            KOREAN_HEADER.split(","),
            # Excel keeps typed numbers as numbers: an id of 1001 and a phone whose 0 is gone.
            [
                1001,
                "김순자",
                "강남구",
                None,
                None,
                "이민수",
                1012345678,
                None,
                None,
                None,
                None,
                "spk1:speaker",
            ],
            [None, "   ", None],
            [
                "gn-2",
                "최영길",
                "강남구",
                "02-555-0102",
                None,
                None,
                None,
                None,
                None,
                "박주무관",
                "02-3423-0000",
                "ph2:phone",
            ],
        ]
    )
    report = read_roster(data, "명단.xlsx")
    assert report.errors == []
    assert report.rows == 2
    assert [(r.row, r.resident["id"]) for r in report.valid] == [(3, "1001"), (5, "gn-2")]
    assert report.valid[0].contacts == [
        {"role": "guardian", "name": "이민수", "phone": "+821012345678"}
    ]
    assert report.warnings == [
        RowError(1, None, "머리글 위의 행이라 건너뜁니다"),
        RowError(
            3, "보호자1 전화", "앞자리 0이 빠진 번호라 010으로 읽었습니다 — 맞는지 확인해 주세요"
        ),
        RowError(5, None, "보호자가 없습니다 — 알림은 담당 공무원과 관제센터로만 갑니다"),
    ]


def test_xlsx_renamed_to_csv_is_still_read_as_xlsx() -> None:
    data = _xlsx([["id", "name", "district", "devices"], ["r1", "김", "종로구", "s:speaker"]])
    report = read_roster(data, "roster.csv")
    assert report.errors == []
    assert [r.resident["id"] for r in report.valid] == ["r1"]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (
            os.urandom(4096),
            "명단.xlsx",
            "엑셀(.xlsx) 파일을 읽을 수 없습니다 — 파일이 손상되었거나 다른 형식입니다",
        ),
        # A zip that is not a workbook: the same message, not a KeyError.
        (
            b"PK\x03\x04" + bytes(range(256)) * 8,
            "명단.xlsx",
            "엑셀(.xlsx) 파일을 읽을 수 없습니다 — 파일이 손상되었거나 다른 형식입니다",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
            "명단.xls",
            "엑셀 97-2003(.xls) 파일은 읽을 수 없습니다 — .xlsx 또는 CSV로 저장해 주세요",
        ),
        (b"", "명단.csv", "파일이 비어 있습니다"),
        (b"\r\n , \r\n", "명단.csv", "파일이 비어 있습니다"),
        (
            b"\x00\x01\x02\x03binary\x00",
            "명단.csv",
            "CSV 파일을 읽을 수 없습니다 — 따옴표나 특수 문자를 확인해 주세요",
        ),
        (
            b"\xff\xff\xff\xfe\x80\x80",
            "명단.csv",
            "CSV 파일의 글자 인코딩을 알 수 없습니다 — UTF-8 또는 CP949로 저장해 주세요",
        ),
    ],
)
def test_unreadable_files_give_one_clear_error(data: bytes, filename: str, message: str) -> None:
    report = read_roster(data, filename)
    assert report == RosterReport(rows=0, valid=[], errors=[RowError(0, None, message)])
    assert report.as_dict()["errors"] == [{"row": 0, "column": None, "message": message}]


def test_the_garbage_xlsx_is_one_error_whatever_the_bytes() -> None:
    for seed in range(20):
        data = bytes((seed * 31 + i * 17) % 256 for i in range(2000))
        report = read_roster(data, "x.xlsx")
        assert len(report.errors) == 1
        assert report.errors[0].row == 0
        assert report.valid == []


def test_the_sample_in_deploy_reads_cleanly() -> None:
    report = read_roster(SAMPLE.read_bytes(), SAMPLE.name)
    assert report.errors == []
    assert report.rows == len(report.valid) == 3
    # The third sample resident shows the two warnings: no device yet, no guardian.
    assert [w.row for w in report.warnings] == [4, 4]


# ------------------------------------------------------------------------------- row checks

ERROR_HEADER = (
    "id,이름,구,전화,주소,보호자1,보호자1 전화,보호자2,보호자2 전화,담당자,담당자 전화,기기"
)


def test_every_kind_of_row_error_with_its_row_and_column() -> None:
    rows = [
        "ok-1,김순자,강남구,,,이민수,010-1234-5678,,,,,spk1:speaker",  # 2
        ",김,강남구,,,,,,,,,s:speaker",  # 3: no id
        "bad id!,김,강남구,,,,,,,,,s:speaker",  # 4: id characters
        "ok-1,김,강남구,,,,,,,,,s:speaker",  # 5: repeats row 2
        "r5,,,,,,,,,,,s:speaker",  # 6: no name, no district
        "r6,김,강남구,12345,,이,010-12-34,,,,,s:speaker",  # 7: two bad phones
        "r7,김,강남구,,,이민수,,,010-1111-2222,박,+1 202 555 0100,s:speaker",  # 8: halves of pairs
        "r8,김,강남구,,,,,,,,,spk1; spk2:radio; bad id:phone; p:phone; p:sensors; :speaker",  # 9
        "r9," + "가" * 101 + ",강남구,,,,,,,,,s:speaker",  # 10: too long
        "r10,김,강남구,,,,,,,,,s:speaker",  # 11: fine, gets a guardian warning only
    ]
    text = "\n".join([ERROR_HEADER, *rows]) + "\n"
    report = read_roster(text.encode("utf-8"), "errors.csv")

    assert report.errors == [
        RowError(3, "id", "ID가 없습니다"),
        RowError(4, "id", "ID에는 영문, 숫자, _, -만 쓸 수 있습니다 (64자 이하)"),
        RowError(5, "id", "ID가 중복됩니다 (2행과 같음)"),
        RowError(6, "이름", "이름이 없습니다"),
        RowError(6, "구", "행정구역이 없습니다"),
        RowError(7, "전화", "전화번호 형식이 올바르지 않습니다"),
        RowError(7, "보호자1 전화", "전화번호 형식이 올바르지 않습니다"),
        RowError(8, "보호자1 전화", "이름은 있지만 전화번호가 없습니다"),
        RowError(8, "보호자2", "전화번호는 있지만 이름이 없습니다"),
        RowError(8, "담당자 전화", "전화번호 형식이 올바르지 않습니다"),
        RowError(9, "기기", "기기 'spk1': '아이디:종류' 형식이어야 합니다 (예: spk1:speaker)"),
        RowError(9, "기기", "기기 'spk2:radio': 종류는 speaker, phone, sensors 중 하나여야 합니다"),
        RowError(
            9,
            "기기",
            "기기 'bad id:phone': 아이디에는 영문, 숫자, _, -만 쓸 수 있습니다 (64자 이하)",
        ),
        RowError(9, "기기", "기기 'p:sensors': 같은 아이디가 두 번 나옵니다"),
        RowError(9, "기기", "기기 ':speaker': '아이디:종류' 형식이어야 합니다 (예: spk1:speaker)"),
        RowError(10, "이름", "100자를 넘습니다"),
    ]
    assert report.rows == 10
    assert [r.row for r in report.valid] == [2, 11]
    assert report.warnings == [
        RowError(11, None, "보호자가 없습니다 — 알림은 담당 공무원과 관제센터로만 갑니다")
    ]
    summary = report.as_dict()
    assert (summary["rows"], summary["valid"], summary["rejected"]) == (10, 2, 8)
    # The dry-run JSON never carries a phone number, in errors or in the resident preview.
    assert "010" not in repr(summary)
    assert "+82" not in repr(summary)


def test_a_duplicate_is_reported_on_the_later_row_even_if_the_first_has_errors() -> None:
    text = "id,이름,구\nr1,김,\nr1,이,종로구\n"
    report = read_roster(text.encode("utf-8"), "d.csv")
    assert report.errors == [
        RowError(2, "구", "행정구역이 없습니다"),
        RowError(3, "id", "ID가 중복됩니다 (2행과 같음)"),
    ]


def test_empty_rows_are_skipped_and_cells_trimmed() -> None:
    text = "\n\n id , 이름 ,구,기기\n\n ,  ,\t,\n  r1 ,  김순자  , 강남구 ,  s1 : speaker ;  \n\n"
    report = read_roster(text.encode("utf-8"), "e.csv")
    assert report.errors == []
    assert report.rows == 1
    (row,) = report.valid
    assert row.row == 6
    assert row.resident == {"id": "r1", "name": "김순자", "district": "강남구"}
    assert row.devices == [{"id": "s1", "kind": "speaker"}]


def test_a_resident_without_devices_is_valid_with_a_warning() -> None:
    report = read_roster(
        "id,이름,구,보호자1,보호자1 전화\nr1,김,중구,이,010-1111-2222\n".encode(), "w.csv"
    )
    assert [r.resident["id"] for r in report.valid] == ["r1"]
    assert report.warnings == [
        RowError(
            2,
            "기기",
            "기기가 없습니다 — 기기를 등록하기 전까지 활동 신호가 없어 "
            "무활동 알림이 열릴 수 있습니다",
        )
    ]


def test_header_problems_reject_the_whole_file() -> None:
    missing = read_roster("id,name,메모\nr1,김,x\n".encode(), "m.csv")
    assert missing.errors == [RowError(1, "행정구역", "필수 열이 없습니다")]
    assert missing.warnings == [RowError(1, "메모", "알 수 없는 열이라 무시합니다")]
    assert (missing.rows, missing.valid) == (1, [])

    repeated = read_roster("id,이름,구,성명\nr1,김,중구,이\n".encode(), "r.csv")
    assert repeated.errors == [RowError(1, "성명", "같은 열이 두 번 있습니다 ('이름'와 같은 항목)")]
    assert repeated.valid == []

    no_header = read_roster(b"a,b,c\n1,2,3\n", "n.csv")
    assert no_header.errors == [
        RowError(
            1,
            None,
            "머리글 행을 찾을 수 없습니다 — 첫 행에 id, 이름, 행정구역 같은 열 이름을 적어 주세요",
        )
    ]

    header_only = read_roster("id,이름,구\n".encode(), "h.csv")
    assert header_only.errors == [RowError(0, None, "머리글 아래에 대상자 행이 없습니다")]


def test_parenthesised_and_spaced_headers() -> None:
    text = (
        "ID,이름(name),District,보호자 1 전화,guardian1 name,Devices\n"
        "r1,김,중구,01011112222,이,a:센서\n"
    )
    report = read_roster(text.encode("utf-8"), "p.csv")
    assert report.errors == []
    (row,) = report.valid
    assert row.contacts == [{"role": "guardian", "name": "이", "phone": "+821011112222"}]
    assert row.devices == [{"id": "a", "kind": "sensors"}]


def test_a_quoted_line_break_stays_one_excel_row() -> None:
    text = 'id,이름,구,주소\nr1,김,중구,"서울 중구\n101호"\nr2,,중구,\n'
    report = read_roster(text.encode("utf-8"), "q.csv")
    assert report.valid[0].resident["address"] == "서울 중구\n101호"
    assert report.errors == [RowError(3, "이름", "이름이 없습니다")]


def test_too_many_rows_is_refused_as_a_whole() -> None:
    lines = ["id,이름,구", *(f"r{i},김,중구" for i in range(MAX_ROWS + 1))]
    report = read_roster("\n".join(lines).encode(), "big.csv")
    assert report.valid == []
    assert report.errors == [
        RowError(0, None, f"행이 너무 많습니다 (최대 {MAX_ROWS}행) — 파일을 나눠 주세요")
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010-1234-5678", "+821012345678"),
        ("+82 10 1234 5678", "+821012345678"),
        ("+82 010-1234-5678", "+821012345678"),
        ("+82 (0)10 1234 5678", "+821012345678"),
        ("02-123-4567", "+8221234567"),
        ("031.123.4567", "+82311234567"),
        ("01012345678", "+821012345678"),
        ("1012345678", None),  # the read path restores this with a warning; the number is not
        ("010-1234-567890", None),
        ("0212345", None),
        ("001-1234-5678", None),
        ("+1 202 555 0100", None),
        ("010-1234-567o", None),
        ("", None),
    ],
)
def test_phone_numbers(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


# ------------------------------------------------------------------------------- applying


class RecordingHub:
    """An in-memory RosterTarget that keeps what it was told, like the hub core would."""

    def __init__(self, existing: Iterable[str] = (), refuse_device: str | None = None) -> None:
        self.residents: dict[str, dict[str, Any]] = {r: {"id": r} for r in existing}
        self.devices: dict[str, list[tuple[str, str]]] = {}
        self.contacts: dict[str, list[tuple[str, str, str]]] = {}
        self.calls: list[str] = []
        self._refuse_device = refuse_device

    def register_resident(self, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        resident_id = str(data["id"])
        if resident_id in self.residents:
            raise ValueError(f"resident {resident_id} exists")
        self.residents[resident_id] = dict(data)
        self.calls.append(f"resident {resident_id}")
        return {"id": resident_id}

    def register_device(self, resident_id: str, device_id: str, kind: str, now: datetime) -> None:
        if device_id == self._refuse_device:
            raise LookupError("refused 010-9999-9999")
        self.devices.setdefault(resident_id, []).append((device_id, kind))
        self.calls.append(f"device {resident_id}/{device_id}")

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
    ) -> int:
        assert resident_id in self.residents
        self.contacts.setdefault(resident_id, []).append((role, name, phone))
        self.calls.append(f"contact {resident_id}/{role}")
        return sum(len(c) for c in self.contacts.values())

    def resident_exists(self, resident_id: str) -> bool:
        return resident_id in self.residents


def _target(hub: RecordingHub) -> RosterTarget:
    return hub  # mypy checks here that the recorder really satisfies the protocol


def test_apply_creates_new_residents_and_skips_existing_ones() -> None:
    report = read_roster(b"\xef\xbb\xbf" + KOREAN_CSV.encode("utf-8"), "명단.csv")
    hub = RecordingHub(existing={"gn-2"})

    result = apply_roster(report, _target(hub), NOW)

    assert {k: result[k] for k in ("created", "skipped_existing", "errors", "failed")} == {
        "created": 1,
        "skipped_existing": 1,
        "errors": 0,
        "failed": 0,
    }
    assert (result["created_ids"], result["skipped_ids"]) == (["gn-1"], ["gn-2"])
    assert hub.residents["gn-2"] == {"id": "gn-2"}  # never updated
    assert hub.residents["gn-1"]["phone"] == "+8225550101"
    assert hub.calls == [
        "resident gn-1",
        "contact gn-1/guardian",
        "contact gn-1/guardian",
        "contact gn-1/official",
        "device gn-1/spk1",
        "device gn-1/ph1",
        "device gn-1/zb1",
    ]
    assert hub.contacts["gn-1"][0] == ("guardian", "이민수", "+821012345678")

    # Applying the same file again changes nothing: everyone exists now.
    again = apply_roster(report, _target(hub), NOW)
    assert (again["created"], again["skipped_existing"]) == (0, 2)
    assert len(hub.calls) == 7


def test_apply_imports_the_valid_rows_and_counts_the_rejected() -> None:
    text = "id,이름,구,기기\nr1,김,중구,a:speaker\nr2,,중구,b:speaker\nr3,이,중구,c:phone\n"
    report = read_roster(text.encode("utf-8"), "x.csv")
    hub = RecordingHub()
    result = apply_roster(report, _target(hub), NOW)
    assert (result["created"], result["skipped_existing"], result["errors"]) == (2, 0, 1)
    assert set(hub.residents) == {"r1", "r3"}


def test_dry_run_counts_without_writing() -> None:
    report = read_roster(b"\xef\xbb\xbf" + KOREAN_CSV.encode("utf-8"), "명단.csv")
    hub = RecordingHub(existing={"gn-1"})
    result = apply_roster(report, _target(hub), NOW, dry_run=True)
    assert (result["created"], result["skipped_existing"], result["dry_run"]) == (1, 1, True)
    assert hub.calls == []


def test_a_refused_row_is_reported_and_the_rest_go_on() -> None:
    text = "id,이름,구,기기\nr1,김,중구,bad:speaker\nr2,이,중구,ok:phone\n"
    report = read_roster(text.encode("utf-8"), "x.csv")
    hub = RecordingHub(refuse_device="bad")
    result = apply_roster(report, _target(hub), NOW)
    assert (result["created"], result["failed"], result["errors"]) == (1, 1, 1)
    assert result["failures"] == [
        {
            "row": 2,
            "id": "r1",
            "message": "대상자는 등록되었지만 연락처나 기기 일부가 빠졌을 수 있습니다 — "
            "화면에서 확인해 주세요 (LookupError)",
        }
    ]
    assert "010" not in repr(result)  # the exception's text (with a phone) is not echoed
    assert hub.devices == {"r2": [("ok", "phone")]}


def test_apply_on_an_unreadable_file_reports_the_error() -> None:
    report = read_roster(b"garbage", "x.xlsx")
    result = apply_roster(report, _target(RecordingHub()), NOW)
    assert (result["created"], result["errors"]) == (0, 1)


def test_registered_devices_are_those_registered_a_failed_rows_included() -> None:
    text = (
        "id,이름,구,기기\n"
        "r1,김,중구,a:speaker; bad:phone\nr2,이,중구,ok:phone\nr3,박,중구,x:sensors\n"
    )
    report = read_roster(text.encode("utf-8"), "x.csv")
    hub = RecordingHub(existing={"r3"}, refuse_device="bad")
    dry = apply_roster(report, _target(hub), NOW, dry_run=True)
    assert [(d["resident"], d["device"]) for d in dry["registered_devices"]] == [
        ("r1", "a"),
        ("r1", "bad"),
        ("r2", "ok"),
    ]
    result = apply_roster(report, _target(hub), NOW)
    # r1's speaker was registered before its phone was refused: it needs credentials too;
    # the existing r3's device is not the import's.
    assert result["registered_devices"] == [
        {"resident": "r1", "device": "a", "kind": "speaker"},
        {"resident": "r2", "device": "ok", "kind": "phone"},
    ]
