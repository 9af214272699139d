"""Districts as data: the seed, name resolution, the migration from free text, and every
entry point (API residents, users, reports, roster; CLI users, report, roster) on both
databases: an unknown name is an error with the closest name suggested, never zeros."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select
from typer.testing import CliRunner

from hub.cli import app
from hub.districts import (
    AmbiguousDistrictError,
    DistrictIndex,
    UnknownDistrictError,
    seed_districts,
)
from hub.store.db import alembic_config, migrate, open_engine, reading
from hub.store.districts import list_districts
from hub.store.tables import api_users, residents
from tests.conftest import free_port

SEOUL_GU = [
    "종로구",
    "중구",
    "용산구",
    "성동구",
    "광진구",
    "동대문구",
    "중랑구",
    "성북구",
    "강북구",
    "도봉구",
    "노원구",
    "은평구",
    "서대문구",
    "마포구",
    "양천구",
    "강서구",
    "구로구",
    "금천구",
    "영등포구",
    "동작구",
    "관악구",
    "서초구",
    "강남구",
    "송파구",
    "강동구",
]
NATION = DistrictIndex(seed_districts())


# -- the seed ------------------------------------------------------------------------------


def test_the_seed_has_seouls_25_gu_with_their_codes_and_codes_are_unique() -> None:
    seed = seed_districts()
    seoul = [d for d in seed if d.sido == "서울특별시"]
    assert sorted(d.sigungu for d in seoul) == sorted(SEOUL_GU)
    assert all(d.code and d.code.startswith("11") for d in seoul)
    assert NATION.resolve("강남구").code == "1168000000"
    codes = [d.code for d in seed if d.code]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"\d{10}", code) for code in codes)
    names = [d.name for d in seed]
    assert len(names) == len(set(names))
    assert len(seed) == 265


def test_the_districts_the_repo_uses_are_in_the_seed() -> None:
    for name in ("유성구", "대덕구", "서대문구", "종로구", "마포구", "강남구", "대전 동구"):
        assert NATION.resolve(name).verified
    assert NATION.resolve("대전 서구").code == "3017000000"
    assert NATION.resolve("대전 중구").code == "3014000000"


# -- resolution ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("강남구", "강남구"),
        ("서울 서대문구", "서대문구"),
        ("서울시 서대문구", "서대문구"),
        ("서울특별시 서대문구", "서대문구"),
        ("서울특별시서대문구", "서대문구"),
        ("  서울   서대문구 ", "서대문구"),
        ("부산 중구", "부산광역시 중구"),
        ("부산광역시 중구", "부산광역시 중구"),
        ("대전 동구", "대전광역시 동구"),
        ("강원도 고성군", "강원특별자치도 고성군"),
        ("경남 고성군", "경상남도 고성군"),
        ("전라북도 전주시", "전주시"),
        ("분당구", "성남시 분당구"),
        ("성남 분당구", "성남시 분당구"),
        ("포항 남구", "포항시 남구"),
        ("세종시", "세종특별자치시"),
        ("제주시", "제주시"),
    ],
)
def test_names_in_common_forms_resolve_to_one_canonical_name(typed: str, canonical: str) -> None:
    assert NATION.resolve(typed).name == canonical


def test_a_name_several_sido_share_is_an_error_asking_for_the_sido() -> None:
    with pytest.raises(AmbiguousDistrictError) as caught:
        NATION.resolve("중구")
    message = caught.value.message
    assert "여러 시도에 있습니다" in message
    assert "서울특별시 중구" in message and "부산광역시 중구" in message
    assert "시도를 함께 적어 주세요" in message
    assert len(caught.value.suggestions) == 5  # 인천's 중구 was abolished on 2026-07-01


def test_the_hubs_sido_settles_a_shared_name() -> None:
    index = DistrictIndex(seed_districts(), home_sido="대전")
    assert index.resolve("동구").name == "대전광역시 동구"
    assert index.resolve("서울 중구").name == "서울특별시 중구"  # a 시도 given still wins


def test_an_unknown_name_suggests_the_closest_in_korean() -> None:
    with pytest.raises(UnknownDistrictError) as caught:
        NATION.resolve("강남")
    assert caught.value.message == "알 수 없는 구: '강남' — '강남구'(서울특별시)를 말씀하신 건가요?"
    with pytest.raises(UnknownDistrictError) as nothing_close:
        NATION.resolve("없는구")
    assert nothing_close.value.message.startswith("알 수 없는 구: '없는구' — ")
    assert nothing_close.value.suggestions == ()


def test_a_sido_with_an_unknown_district_lists_that_sidos_districts() -> None:
    with pytest.raises(UnknownDistrictError) as caught:
        NATION.resolve("인천 중구")
    assert "인천광역시의 시군구:" in caught.value.message
    assert "제물포구" in caught.value.message and "영종구" in caught.value.message


# -- the migration -------------------------------------------------------------------------


def test_the_migration_maps_free_text_names_and_keeps_the_rest_unverified(db_url: str) -> None:
    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            config = alembic_config(db_url)
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
        now = datetime.fromisoformat("2026-11-01T00:00:00+09:00")
        people = {
            "a": "강남구",
            "b": "서울 서대문구",
            "c": "서울특별시 서대문구",
            "d": "서대문구",
            "e": "없는구",
            "f": "동구",
            "g": "대전  유성구",
        }
        with engine.begin() as conn:
            for resident_id, district in people.items():
                conn.execute(
                    insert(residents).values(
                        id=resident_id, name="김", district=district, policy={}, created_at=now
                    )
                )
            conn.execute(
                insert(api_users).values(
                    name="박주무관",
                    role="official",
                    district="서울 서대문구",
                    token_hash="x" * 64,
                    created_at=now,
                )
            )
        migrate(engine)
        with reading(engine) as conn:
            stored = dict(conn.execute(select(residents.c.id, residents.c.district)).all())
            official = conn.execute(select(api_users.c.district)).scalar_one()
            unverified = list_districts(conn, verified=False)
            everything = list_districts(conn)
        assert stored == {
            "a": "강남구",
            "b": "서대문구",
            "c": "서대문구",
            "d": "서대문구",
            "e": "없는구",
            "f": "동구",
            "g": "유성구",
        }
        assert official == "서대문구"
        assert sorted(d.name for d in unverified) == ["동구", "없는구"]
        assert all(d.sido is None and d.code is None for d in unverified)
        assert len(everything) == 265 + 2
        # A kept name resolves to itself from then on: its residents are not split.
        assert DistrictIndex(everything).resolve("동구").name == "동구"
    finally:
        engine.dispose()


# -- the API -------------------------------------------------------------------------------


def _resident(running: Any, resident_id: str, district: str) -> Any:
    body = {"id": resident_id, "name": "김순자", "district": district}
    return running.http.post("/api/v1/residents", json=body)


def test_residents_get_the_canonical_name_and_unknown_names_are_refused(start_hub: Any) -> None:
    running = start_hub(sido=None)
    assert _resident(running, "r1", "서울 서대문구").status_code == 201
    assert _resident(running, "r2", "서대문구").status_code == 201
    listed = running.http.get("/api/v1/residents", params={"district": "서울특별시 서대문구"})
    assert {(r["id"], r["district"]) for r in listed.json()} == {
        ("r1", "서대문구"),
        ("r2", "서대문구"),
    }
    assert running.http.get("/api/v1/residents/r1").json()["district"] == "서대문구"
    unknown = _resident(running, "r3", "강남")
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == (
        "알 수 없는 구: '강남' — '강남구'(서울특별시)를 말씀하신 건가요?"
    )
    shared = _resident(running, "r4", "동구")
    assert shared.status_code == 422
    assert "시도를 함께 적어 주세요" in shared.json()["detail"]
    assert running.http.get("/api/v1/residents/r3").status_code == 404
    assert running.http.get("/api/v1/residents", params={"district": "없는구"}).status_code == 422


def test_an_official_needs_a_district_the_hub_knows(start_hub: Any) -> None:
    running = start_hub()
    body = {"name": "박주무관", "role": "official", "district": "없는구"}
    refused = running.http.post("/api/v1/users", json=body)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("알 수 없는 구: '없는구'")
    made = running.http.post("/api/v1/users", json={**body, "district": "대전 유성구"})
    assert made.status_code == 201
    assert made.json()["district"] == "유성구"
    token = made.json()["token"]
    me = running.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["district"] == "유성구"


def test_a_report_for_a_district_that_does_not_exist_is_404_not_zeros(start_hub: Any) -> None:
    running = start_hub()
    missing = running.http.get("/api/v1/reports/없는구/2026-11")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("알 수 없는 구: '없는구'")
    close = running.http.get("/api/v1/reports/유성/2026-11")
    assert close.status_code == 404
    assert "'유성구'(대전광역시)" in close.json()["detail"]
    assert _resident(running, "r1", "유성구").status_code == 201
    report = running.http.get("/api/v1/reports/대전 유성구/2026-11")
    assert report.status_code == 200
    assert report.json()["district"] == "유성구"
    assert report.json()["residents_monitored"] == 1
    official = {"name": "박주무관", "role": "official", "district": "유성구"}
    token = running.http.post("/api/v1/users", json=official).json()["token"]
    as_official = {"Authorization": f"Bearer {token}"}
    # Any other name, a district or not, is another district's report to an official.
    for other in ("없는구", "서대문구"):
        answer = running.http.get(f"/api/v1/reports/{other}/2026-11", headers=as_official)
        assert answer.status_code == 403
    own = running.http.get("/api/v1/reports/대전유성구/2026-11", headers=as_official)
    assert own.status_code == 200


def test_roster_rows_with_unknown_districts_get_a_korean_row_error(start_hub: Any) -> None:
    running = start_hub()
    roster = "id,이름,행정구역\nr1,김순자,서울 서대문구\nr2,박영길,강남\nr3,이말순,중구\n"
    answer = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv", "apply": "true"},
        content=roster.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()["report"]
    assert report["valid"] == 2
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "행정구역")]
    assert report["errors"][0]["message"] == (
        "알 수 없는 구: '강남' — '강남구'(서울특별시)를 말씀하신 건가요?"
    )
    # 중구 is 대전's for a hub with ANBU_SIDO=대전광역시 (the fixture's).
    assert {(r["id"], r["district"]) for r in report["residents"]} == {
        ("r1", "서대문구"),
        ("r3", "대전광역시 중구"),
    }
    assert running.http.get("/api/v1/residents/r1").json()["district"] == "서대문구"


# -- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI on a migrated database, with only ANBU_DB_URL (and an unused ANBU_HTTP)."""
    for key in list(os.environ):
        if key.startswith("ANBU_") and key != "ANBU_TEST_NOW":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANBU_DB_URL", db_url)
    monkeypatch.setenv("ANBU_HTTP", f"127.0.0.1:{free_port()}")
    engine = open_engine(db_url)
    migrate(engine)
    engine.dispose()
    return CliRunner()


def test_cli_users_add_refuses_an_unknown_district(cli: CliRunner) -> None:
    args = ["users", "add", "--name", "박주무관", "--role", "official", "--district"]
    refused = cli.invoke(app, [*args, "강남"])
    assert refused.exit_code == 2
    assert "--district: 알 수 없는 구: '강남' — '강남구'(서울특별시)를" in refused.output
    made = cli.invoke(app, [*args, "서울 강남구"])
    assert made.exit_code == 0, made.output
    assert "(강남구)" in made.output


def test_cli_report_refuses_an_unknown_district_and_accepts_any_form(cli: CliRunner) -> None:
    args = ["report", "usage", "--month", "2026-11", "--district"]
    refused = cli.invoke(app, [*args, "없는구"])
    assert refused.exit_code == 2
    assert "--district: 알 수 없는 구: '없는구'" in refused.output
    shared = cli.invoke(app, [*args, "동구"])
    assert shared.exit_code == 2
    assert "시도를 함께 적어 주세요" in shared.output
    assert cli.invoke(app, [*args, "대전 동구"]).exit_code == 0


def test_cli_roster_import_checks_districts_like_the_api(
    cli: CliRunner, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANBU_SIDO", "대전")
    roster = tmp_path / "명단.csv"
    roster.write_text("id,이름,구\nr1,김순자,동구\nr2,박영길,없는구\n", encoding="utf-8")
    result = cli.invoke(app, ["roster", "import", str(roster), "--json"])
    assert result.exit_code == 1, result.output
    assert "알 수 없는 구: '없는구'" in result.output
    assert '"district": "대전광역시 동구"' in result.output
