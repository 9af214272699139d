"""NHN Cloud, Solapi and Aligo adapters, over real HTTP to stand-ins that check the docs.

Nothing here mocks httpx: every request crosses a socket to ``tests/hub/standins.py``,
which refuses anything the provider's documentation would refuse. A test that expects
``sent`` therefore asserts the request's method, path, headers, auth and fields too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import structlog
import structlog.testing

from hub.notify.provider import ProviderReply, SmsMessage
from hub.notify.providers import provider_from_url
from hub.notify.providers.aligo import AligoSms
from hub.notify.providers.http import HttpSmsProvider, key_ref
from hub.notify.providers.nhn_cloud import NhnCloudSms
from hub.notify.providers.solapi import SolapiSms
from hub.notify.providers.spec import phone_digits
from hub.notify.sms_text import SmsText, prepare
from tests.conftest import free_port
from tests.hub.standins import AligoStandIn, NhnStandIn, SolapiStandIn

PHONE = "+82 10-9876-5432"
DIGITS = "01098765432"
# 40 Hangul syllables, 80 EUC-KR bytes.
SMS_BODY = "김순자님오늘아침활동이확인되지않았습니다보호자님께서확인부탁드립니다관제센터드림"
LMS_BODY = (
    "[안부] 김순자님(서울 마포구) 열두 시간째 움직임이 없습니다. 관제센터 연락 바랍니다. " * 5
)[:200]

StandIn = NhnStandIn | SolapiStandIn | AligoStandIn


def _message(body: str, to: str = PHONE) -> SmsMessage:
    return SmsMessage(
        key=f"alert:a-17:guardian:{to}",
        to=to,
        role="guardian",
        resident="r-1",
        alert_id="a-17",
        kind="no_activity",
        stage="guardian",
        body=body,
    )


def _secret_of(standin: StandIn) -> str:
    if isinstance(standin, NhnStandIn):
        return standin.secret_key
    if isinstance(standin, SolapiStandIn):
        return standin.api_secret
    return standin.api_key


def _wrong_secret_spec(standin: StandIn) -> str:
    if isinstance(standin, NhnStandIn):
        return standin.url_spec(secret_key="wrong-secret-000")
    if isinstance(standin, SolapiStandIn):
        return standin.url_spec(api_secret="wrong-secret-000")
    return standin.url_spec(api_key="wrong-secret-000")


STANDINS: dict[str, Callable[[], StandIn]] = {
    "nhn": NhnStandIn,
    "solapi": SolapiStandIn,
    "aligo": AligoStandIn,
}


@pytest.fixture(params=sorted(STANDINS))
def standin(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    server = STANDINS[request.param]()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_provider() -> Iterator[Callable[[str], HttpSmsProvider]]:
    built: list[Any] = []

    def make(spec: str) -> HttpSmsProvider:
        provider = provider_from_url(spec)
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


def test_sms_body_is_forty_syllables() -> None:
    assert len(SMS_BODY) == 40


def _assert_clean(reply: ProviderReply, *secrets: str) -> None:
    """Error text carries no secret, no phone number and no body text."""
    text = reply.error or ""
    for forbidden in (*secrets, DIGITS, "9876-5432", "98765432", SMS_BODY[:10], LMS_BODY[:10]):
        assert forbidden not in text, (forbidden, text)


# ---------------------------------------------------------------------------------------
# Sending


def test_sms_goes_to_the_sms_endpoint_as_documented(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    text = prepare(SMS_BODY)
    assert text.kind == "SMS"

    reply = provider.submit(_message(SMS_BODY), text)

    assert reply.state == "sent", (reply, standin.rejections)
    assert reply.provider_id
    assert standin.rejections == []
    [record] = standin.accepted
    assert record["provider_id"] == reply.provider_id
    assert record["kind"] == "SMS"
    assert record["to"] == DIGITS
    assert record["from"] == "0212345678"
    assert record["body"] == SMS_BODY
    assert record["subject"] is None
    assert record["body_bytes"] == text.body_bytes == 80
    assert provider.name == standin.name


def test_lms_goes_with_a_subject_as_documented(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    text = prepare(LMS_BODY, subject="[안부] 김순자님 장시간 무활동 - 관제센터 확인 요망")
    assert text.kind == "LMS"

    reply = provider.submit(_message(LMS_BODY), text)

    assert reply.state == "sent", (reply, standin.rejections)
    [record] = standin.accepted
    assert record["kind"] == "LMS"
    assert record["body"] == LMS_BODY
    assert record["subject"] == text.subject
    assert record["body_bytes"] == text.body_bytes
    assert len(record["subject"].encode("cp949")) <= 40


def test_emoji_body_is_carried_after_prepare(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    # Every stand-in refuses text EUC-KR cannot carry (NHN documents -2023 for it).
    provider = make_provider(standin.url_spec())
    reply = provider.submit(_message("어르신 괜찮으세요 😀"), prepare("어르신 괜찮으세요 😀"))
    assert reply.state == "sent", standin.rejections
    assert standin.accepted[0]["body"] == "어르신 괜찮으세요 ?"


def test_unprepared_sms_over_ninety_bytes_is_refused_by_the_stand_in(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    # The real services would cut this on the handset; the stand-ins refuse so an adapter
    # that lost text would fail here.
    provider = make_provider(standin.url_spec())
    too_long = SmsText(kind="SMS", body="가" * 46, subject=None, body_bytes=92, replaced=0)
    reply = provider.submit(_message("x"), too_long)
    assert reply.state == "failed"
    assert reply.retryable is False
    assert standin.accepted == []


def test_wrong_secret_fails_permanently_without_leaking_it(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(_wrong_secret_spec(standin))
    reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert reply.state == "failed"
    assert reply.retryable is False
    assert standin.accepted == []
    _assert_clean(reply, "wrong-secret-000", _secret_of(standin))


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_fail_retryably(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider], status: int
) -> None:
    provider = make_provider(standin.url_spec())
    standin.fail_next(1, status=status)
    reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert reply.state == "failed"
    assert reply.retryable is True
    assert str(status) in (reply.error or "")
    _assert_clean(reply, _secret_of(standin))
    # The next attempt goes through.
    assert provider.submit(_message(SMS_BODY), prepare(SMS_BODY)).state == "sent"
    assert standin.requests == 2


def test_client_error_fails_permanently(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    standin.fail_next(1, status=400)
    reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert (reply.state, reply.retryable) == ("failed", False)


def test_unregistered_sender_is_a_provider_error(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    reply = make_provider(standin.url_spec(sender="0299998888")).submit(
        _message(SMS_BODY), prepare(SMS_BODY)
    )
    assert (reply.state, reply.retryable) == ("failed", False)
    assert standin.accepted == []
    _assert_clean(reply, _secret_of(standin))


def test_no_answer_after_sending_is_unknown(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    spec = standin.url_spec(timeout=0.4)
    provider = make_provider(spec)
    standin.hang_next(1)
    reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert reply.state == "unknown"
    assert reply.retryable is False
    assert standin.requests == 1  # it did reach the provider
    _assert_clean(reply, _secret_of(standin))
    standin.release()


def test_connection_refused_fails_retryably(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    port = free_port()  # nothing listens here
    spec = standin.url_spec().replace(f":{standin.port}?", f":{port}?")
    reply = make_provider(spec).submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert (reply.state, reply.retryable) == ("failed", True)
    assert standin.requests == 0
    _assert_clean(reply, _secret_of(standin))


def test_unknown_host_fails_retryably(make_provider: Callable[[str], HttpSmsProvider]) -> None:
    provider = make_provider("nhn://key:secret-xyz@no-such-host.invalid?sender=0212345678&tls=no")
    reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert (reply.state, reply.retryable) == ("failed", True)


def test_recipient_that_is_not_a_phone_number_fails_without_a_request(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    reply = provider.submit(_message(SMS_BODY, to="guardian@example.com"), prepare(SMS_BODY))
    assert (reply.state, reply.retryable) == ("failed", False)
    assert standin.requests == 0
    assert "example.com" not in (reply.error or "")


# ---------------------------------------------------------------------------------------
# Receipts


def test_receipts_report_delivered_failed_and_pending(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    first = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    second = provider.submit(_message(LMS_BODY), prepare(LMS_BODY))
    third = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert first.provider_id and second.provider_id and third.provider_id

    standin.mark(second.provider_id, "failed")
    standin.mark(third.provider_id, "pending")

    assert provider.receipt(first.provider_id) == "delivered"
    assert provider.receipt(second.provider_id) == "failed"
    assert provider.receipt(third.provider_id) == "pending"
    assert standin.rejections == []


def test_receipt_for_an_unknown_id_or_a_dead_provider_is_none(
    standin: StandIn, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    provider = make_provider(standin.url_spec())
    bogus = "sms:20240101000000abcdefabcde:1" if isinstance(standin, NhnStandIn) else "999"
    assert provider.receipt(bogus) is None
    standin.fail_next(1, status=503)
    sent = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert sent.state == "failed"
    ok = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
    assert ok.provider_id
    standin.fail_next(1, status=500)
    assert provider.receipt(ok.provider_id) is None
    assert provider.receipt(ok.provider_id) == "delivered"


# ---------------------------------------------------------------------------------------
# Provider-specific documented details


def test_nhn_lms_uses_the_mms_endpoint_and_grouping_key(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = NhnStandIn()
    try:
        provider = make_provider(server.url_spec())
        message = _message(LMS_BODY)
        reply = provider.submit(message, prepare(LMS_BODY))
        assert reply.provider_id is not None
        assert reply.provider_id.startswith("mms:")
        assert server.accepted[0]["grouping_key"] == key_ref(message.key)
        assert DIGITS not in server.accepted[0]["grouping_key"]
    finally:
        server.close()


def test_nhn_stand_in_rejects_a_request_without_the_secret_header() -> None:
    server = NhnStandIn()
    try:
        response = httpx.post(
            f"{server.base_url}/sms/v3.0/appKeys/{server.app_key}/sender/sms",
            json={"body": "x", "sendNo": server.sender, "recipientList": [{"recipientNo": DIGITS}]},
        )
        assert response.status_code == 401
        assert response.json()["header"]["isSuccessful"] is False
        response = httpx.post(
            f"{server.base_url}/sms/v3.0/appKeys/{server.app_key}/sender/sms",
            headers={"X-Secret-Key": server.secret_key},
            json={"text": "x", "sendNo": server.sender, "recipientList": [{"recipientNo": DIGITS}]},
        )
        assert response.json()["header"]["resultCode"] == -9997
        assert server.accepted == []
    finally:
        server.close()


@pytest.mark.parametrize(
    ("msg_status", "result_code", "receipt"),
    [
        ("1", "", "pending"),
        ("2", "", "pending"),
        ("3", "1000", "delivered"),
        ("3", "3015", "failed"),
        ("0", "", "failed"),
        ("4", "", "failed"),
        ("5", "", "failed"),
        # v3.0 guide: 6 = 실패(광고 제한), 7 = 재발송 대기(광고 제한).
        ("6", "", "failed"),
        ("7", "", "pending"),
    ],
)
def test_nhn_receipt_reads_every_documented_msg_status(
    msg_status: str,
    result_code: str,
    receipt: str,
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = NhnStandIn()
    try:
        provider = make_provider(server.url_spec())
        reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
        assert reply.provider_id is not None
        server.report(reply.provider_id, msg_status, result_code)
        assert provider.receipt(reply.provider_id) == receipt
    finally:
        server.close()


def test_nhn_stand_in_takes_the_documented_use_conversion_field_on_sms_only() -> None:
    server = NhnStandIn()
    try:
        base = f"{server.base_url}/sms/v3.0/appKeys/{server.app_key}/sender"
        body = {
            "body": "안부",
            "sendNo": server.sender,
            "recipientList": [{"recipientNo": DIGITS}],
            "useConversion": False,
        }
        headers = {"X-Secret-Key": server.secret_key}
        sms = httpx.post(f"{base}/sms", json=body, headers=headers).json()
        assert sms["header"]["isSuccessful"] is True, server.rejections
        mms = httpx.post(f"{base}/mms", json={**body, "title": "제목"}, headers=headers).json()
        assert mms["header"]["resultCode"] == -9997
    finally:
        server.close()


@pytest.mark.parametrize(
    ("sms_state", "receipt"),
    [
        ("성공", "delivered"),
        ("전송성공", "delivered"),
        ("실패", "failed"),
        ("수신거부", "failed"),
        ("대기", "pending"),
        ("전송중", "pending"),
        # Not in Aligo's documentation, so not guessed: "cannot tell".
        ("발송완료", None),
        ("1", None),
        ("DONE", None),
    ],
)
def test_aligo_trusts_only_unambiguous_sms_state_wording(
    sms_state: str, receipt: str | None, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    server = AligoStandIn()
    try:
        provider = make_provider(server.url_spec())
        reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
        assert reply.provider_id is not None
        server.report(reply.provider_id, sms_state)
        with structlog.testing.capture_logs() as logs:
            assert provider.receipt(reply.provider_id) == receipt
        unknown = [e for e in logs if e["event"] == "aligo_unknown_sms_state"]
        assert bool(unknown) is (receipt is None)
    finally:
        server.close()


def test_aligo_unknown_sms_state_is_logged_without_a_phone_number(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = AligoStandIn()
    try:
        provider = make_provider(server.url_spec())
        reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
        assert reply.provider_id is not None
        server.report(reply.provider_id, f"{DIGITS} 보류")
        with structlog.testing.capture_logs() as logs:
            assert provider.receipt(reply.provider_id) is None
        [entry] = [e for e in logs if e["event"] == "aligo_unknown_sms_state"]
        assert "보류" in entry["sms_state"]
        assert "98765432" not in entry["sms_state"]
    finally:
        server.close()


def test_aligo_stand_in_title_is_one_to_forty_four_bytes() -> None:
    server = AligoStandIn()
    try:
        form = {
            "key": server.api_key,
            "user_id": server.user_id,
            "sender": server.sender,
            "receiver": DIGITS,
            "msg": LMS_BODY,
            "msg_type": "LMS",
        }
        for title, accepted in (("가" * 22, True), ("가" * 22 + "a", False), ("", False)):
            answer = httpx.post(f"{server.base_url}/send/", data={**form, "title": title})
            assert (answer.json()["result_code"] == "1") is accepted, (title, server.rejections)
    finally:
        server.close()


def _solapi_header(
    server: SolapiStandIn,
    names: tuple[str, str] = ("apiKey", "date"),
    date: str | None = None,
    method: str = "HMAC-SHA256",
) -> str:
    """A header signed by hand, the parameter names spelt as given."""
    when = date or datetime.now(UTC).isoformat()
    salt = secrets.token_hex(16)
    digest = hashlib.md5 if method == "HMAC-MD5" else hashlib.sha256
    signature = hmac.new(server.api_secret.encode(), (when + salt).encode(), digest).hexdigest()
    key_name, date_name = names
    return (
        f"{method} {key_name}={server.api_key}, {date_name}={when}, salt={salt}, "
        f"signature={signature}"
    )


def test_solapi_stand_in_checks_the_signature_date_and_replay() -> None:
    server = SolapiStandIn()
    try:
        header = _solapi_header(server)  # one signed header, sent twice below
        body = {"message": {"to": DIGITS, "from": server.sender, "text": "안부", "type": "SMS"}}
        url = f"{server.base_url}/messages/v4/send"
        first = httpx.post(url, json=body, headers={"Authorization": header})
        assert first.status_code == 200, server.rejections
        replay = httpx.post(url, json=body, headers={"Authorization": header})
        # "API Key 인증 방식": each refusal is HTTP 403.
        assert replay.status_code == 403
        assert replay.json()["errorCode"] == "DuplicatedSignature"
        stale = _solapi_header(server, date="2019-07-01T00:41:48Z")
        skewed = httpx.post(url, json=body, headers={"Authorization": stale})
        assert skewed.status_code == 403
        assert skewed.json()["errorCode"] == "RequestTimeTooSkewed"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("names", "date_form", "method"),
    [
        # As the docs write it.
        (("apiKey", "date"), "utc-z", "HMAC-SHA256"),
        # As the official SDK 5.0.3 writes it: capitalised names, local time with
        # microseconds and an offset.
        (("ApiKey", "Date"), "local-offset", "HMAC-SHA256"),
        # The docs' other algorithm.
        (("apiKey", "date"), "utc-z", "HMAC-MD5"),
    ],
)
def test_solapi_stand_in_takes_the_documented_and_the_sdk_header(
    names: tuple[str, str], date_form: str, method: str
) -> None:
    server = SolapiStandIn()
    try:
        now = datetime.now(UTC)
        if date_form == "utc-z":
            date = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            date = now.astimezone(timezone(timedelta(hours=9))).isoformat()
        header = _solapi_header(server, names, date, method)
        body = {"messages": [{"to": DIGITS, "from": server.sender, "text": "안부"}]}
        response = httpx.post(
            f"{server.base_url}/messages/v4/send-many/detail",
            json=body,
            headers={"Authorization": header},
        )
        assert response.status_code == 200, server.rejections
        assert response.json()["messageList"][0]["statusCode"] == "2000"
    finally:
        server.close()


def test_solapi_stand_in_refuses_a_header_without_an_offset_or_a_parameter() -> None:
    server = SolapiStandIn()
    try:
        body = {"messages": [{"to": DIGITS, "from": server.sender, "text": "안부"}]}
        url = f"{server.base_url}/messages/v4/send-many/detail"
        naive = _solapi_header(server, date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        missing = _solapi_header(server).replace("salt=", "pepper=")
        for header in (naive, missing, "Bearer abc"):
            response = httpx.post(url, json=body, headers={"Authorization": header})
            assert response.status_code == 403, header
        assert server.accepted == []
    finally:
        server.close()


def test_solapi_sends_what_the_official_sdk_sends(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = SolapiStandIn()
    try:
        provider = make_provider(server.url_spec())
        reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
        assert reply.provider_id is not None, server.rejections
        assert provider.receipt(reply.provider_id) == "delivered"
        (send_method, send_path, send_headers), (get_method, get_path, _) = server.seen
        assert (send_method, send_path) == ("POST", "/messages/v4/send-many/detail")
        assert (get_method, get_path) == ("GET", "/messages/v4/list-old")
        authorization = send_headers["Authorization"]
        assert authorization.startswith("HMAC-SHA256 ApiKey=")
        assert ", Date=" in authorization
    finally:
        server.close()


def test_solapi_refusal_in_the_failed_message_list_is_permanent(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = SolapiStandIn()
    try:
        provider = make_provider(server.url_spec(sender="0299998888"))
        reply = provider.submit(_message(SMS_BODY), prepare(SMS_BODY))
        assert (reply.state, reply.retryable) == ("failed", False)
        # 1062 = 발신번호 미등록 ("메시지 상태 코드").
        assert "1062" in (reply.error or "")
    finally:
        server.close()


def test_solapi_stand_in_refuses_a_subject_on_an_sms() -> None:
    server = SolapiStandIn()
    try:
        message = {"to": DIGITS, "from": server.sender, "text": "안부", "type": "SMS"}
        response = httpx.post(
            f"{server.base_url}/messages/v4/send-many/detail",
            json={"messages": [{**message, "subject": "제목"}]},
            headers={"Authorization": _solapi_header(server)},
        )
        assert response.json()["failedMessageList"][0]["statusCode"] == "1013"
        assert server.accepted == []
    finally:
        server.close()


@pytest.mark.parametrize("name", ["solapi", "aligo"])
def test_lms_without_a_subject_is_accepted(
    name: str, make_provider: Callable[[str], HttpSmsProvider]
) -> None:
    # Solapi's subject and Aligo's title are optional ("선택 필드", "X").
    server = STANDINS[name]()
    try:
        provider = make_provider(server.url_spec())
        size = len(LMS_BODY.encode("cp949"))
        text = SmsText(kind="LMS", body=LMS_BODY, subject=None, body_bytes=size, replaced=0)
        reply = provider.submit(_message(LMS_BODY), text)
        assert reply.state == "sent", server.rejections
        assert server.accepted[0]["kind"] == "LMS"
        assert server.accepted[0]["subject"] is None
    finally:
        server.close()


def test_solapi_tags_the_message_with_a_key_hash(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = SolapiStandIn()
    try:
        message = _message(SMS_BODY)
        make_provider(server.url_spec()).submit(message, prepare(SMS_BODY))
        assert server.accepted[0]["custom_fields"] == {"anbu": key_ref(message.key)}
    finally:
        server.close()


def test_aligo_stand_in_wants_a_form_not_json() -> None:
    server = AligoStandIn()
    try:
        response = httpx.post(
            f"{server.base_url}/send/",
            json={"key": server.api_key, "user_id": server.user_id},
        )
        assert response.json()["result_code"] != "1"
        assert server.accepted == []
    finally:
        server.close()


def test_aligo_testmode_option_is_passed_through(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = AligoStandIn()
    try:
        provider = make_provider(server.url_spec() + "&testmode=yes")
        assert provider.submit(_message(SMS_BODY), prepare(SMS_BODY)).state == "sent"
        assert server.accepted[0]["testmode"] == "Y"
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# Specs, numbers, conversions


def test_specs_build_the_right_adapter() -> None:
    nhn = provider_from_url("nhn://APP:SECRET@sms.api.nhncloudservice.com?sender=0212345678")
    solapi = provider_from_url("solapi://KEY:SECRET@api.solapi.com?sender=02-1234-5678")
    aligo = provider_from_url("aligo://me:KEY@apis.aligo.in?sender=0212345678&timeout=3")
    try:
        assert isinstance(nhn, NhnCloudSms)
        assert isinstance(solapi, SolapiSms)
        assert isinstance(aligo, AligoSms)
        assert "SECRET" not in repr(nhn)
        assert "SECRET" not in repr(nhn._spec)
        assert repr(nhn) == "<NhnCloudSms https://sms.api.nhncloudservice.com>"
    finally:
        for provider in (nhn, solapi, aligo):
            provider.close()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("twilio://a:topsecret@x?sender=0212345678", "must start with"),
        ("nhn://topsecret@x?sender=0212345678", "secret key is missing"),
        ("nhn://:topsecret@x?sender=0212345678", "app key is missing"),
        ("nhn://a:topsecret@?sender=0212345678", "host is missing"),
        ("nhn://a:topsecret@x", "sender="),
        ("nhn://a:topsecret@x?sender=abc", "sender="),
        ("nhn://a:topsecret@x?sender=0212345678&tls=maybe", "tls="),
        ("nhn://a:topsecret@x?sender=0212345678&timeout=soon", "timeout="),
        ("nhn://a:topsecret@x?sender=0212345678&timeout=0", "timeout="),
        ("nhn://a:topsecret@x?sender=0212345678&sendr=1", "unknown option"),
        ("nhn://a:topsecret@x?sender=0212345678&testmode=yes", "testmode="),
        ("nhn://a:top/secret@x?sender=0212345678", "percent-encode"),
        ("solapi://a:top#secret@x?sender=0212345678", "percent-encode"),
    ],
)
def test_bad_specs_are_refused_without_echoing_the_secret(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as caught:
        provider_from_url(spec)
    for secret in ("topsecret", "top/secret", "top#secret", "/secret", "#secret"):
        assert secret not in str(caught.value)


def test_percent_encoded_credentials_are_decoded(
    make_provider: Callable[[str], HttpSmsProvider],
) -> None:
    server = NhnStandIn(secret_key="a/b#c@d:e")
    try:
        provider = make_provider(server.url_spec())
        assert provider.submit(_message(SMS_BODY), prepare(SMS_BODY)).state == "sent"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+82 10-9876-5432", "01098765432"),
        ("+821098765432", "01098765432"),
        ("+82 010 9876 5432", "01098765432"),
        ("0082-10-9876-5432", "01098765432"),
        ("010-9876-5432", "01098765432"),
        ("(02) 123-4567", "021234567"),
        ("1588-1234", "15881234"),
        ("+1 555 123 4567", None),
        ("010-98", None),
        ("guardian@example.com", None),
    ],
)
def test_phone_numbers_are_sent_as_digits(raw: str, digits: str | None) -> None:
    assert phone_digits(raw) == digits
