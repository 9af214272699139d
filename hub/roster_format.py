"""The roster format's particulars: columns and their accepted names, limits, messages, results.

Owns what :mod:`hub.roster` documents as the format: each field with the header names a
district may use for it, the length and size limits, the device kinds, every message the
district reads (Korean, never a phone number), and the types a check produces
(:class:`RowError`, :class:`RosterRow`, :class:`RosterReport`). Reading a file is
:mod:`hub.roster_read`, checking rows :mod:`hub.roster_check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.vocab import DEVICE_KINDS, ID_PATTERN, DeviceKind

MAX_ROWS = 20_000
# The upload itself, checked while it streams in (hub/api/roster.py).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)
# An XLSX is a zip: what its parts declare they unpack to, all together, checked before the
# workbook is opened (Python's zipfile never unpacks a part beyond its declared size, so a
# zip bomb cannot lie its way past this). A 20,000-row roster unpacks to ~10 MB.
MAX_XLSX_UNCOMPRESSED = 64 * 1024 * 1024
MAX_XLSX_PARTS = 1_000
# Rows of the sheet read, empty ones included: read-only openpyxl yields every row number
# up to the last one, so one cell in row 1,048,576 would cost a million rows of reading.
MAX_SHEET_ROWS = 100_000
# Extra columns beyond this are notes a district keeps; never roster data.
MAX_COLUMNS = 100
# Title rows ("○○구 독거어르신 명단") sometimes sit above the header; never this many.
HEADER_SEARCH_ROWS = 10
MAX_ECHO = 30

ID_RE = ID_PATTERN

# The words a district writes for each device kind (Korean and English), to the kind.
DEVICE_KIND_WORDS: dict[str, DeviceKind] = {
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
MSG_DEVICE_KIND = "기기 '{item}': 종류는 " + ", ".join(DEVICE_KINDS) + " 중 하나여야 합니다"
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
# The HTTP 413 answer: read by whoever uploads, an installer's script as much as a district.
MSG_UPLOAD_TOO_LARGE = (
    f"파일이 너무 큽니다 (최대 {MAX_UPLOAD_MB} MB) — 파일을 나눠 주세요 / "
    f"the file is too large (at most {MAX_UPLOAD_MB} MB): split it"
)
MSG_XLSX_TOO_BIG = (
    f"엑셀 파일의 압축을 풀면 너무 큽니다 (최대 {MAX_XLSX_UNCOMPRESSED // (1024 * 1024)} MB) "
    "— 필요 없는 시트나 그림을 지우거나 파일을 나눠 주세요"
)
MSG_TOO_MANY_SHEET_ROWS = (
    f"시트의 행이 너무 많습니다 (빈 행을 포함해 최대 {MAX_SHEET_ROWS:,}행) "
    "— 아래쪽의 빈 행을 지우거나 파일을 나눠 주세요"
)

# A table is (Excel row number, trimmed cells) for every non-empty row.
Table = list[tuple[int, list[str]]]


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
