"""The Solapi stand-in against Solapi's official Python SDK (``solapi`` 5.0.3, the dev extra).

The SDK signs, sends and asks exactly as it does against api.solapi.com; only its base URL
points at the stand-in. So the stand-in that checks :mod:`hub.notify.providers.solapi` is
itself checked against what Solapi ships, and a message sent through the SDK can be
followed by our provider's receipt.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from solapi import SolapiMessageService
from solapi.error.MessageNotReceiveError import MessageNotReceivedError
from solapi.model.request.message import Message
from solapi.model.request.messages.get_messages import GetMessagesRequest

from hub.notify.providers import provider_from_url
from tests.hub.standins import SolapiStandIn

DIGITS = "01098765432"
SMS_BODY = "김순자님 오늘 아침 활동이 확인되지 않았습니다"
LMS_BODY = (
    "[안부] 김순자님(서울 마포구) 열두 시간째 움직임이 없습니다. 관제센터 연락 바랍니다. " * 4
)


@pytest.fixture
def server() -> Iterator[SolapiStandIn]:
    standin = SolapiStandIn()
    try:
        yield standin
    finally:
        standin.close()


def _service(server: SolapiStandIn, secret: str | None = None) -> SolapiMessageService:
    service = SolapiMessageService(server.api_key, secret or server.api_secret)
    service.base_url = server.base_url  # the SDK's only address setting
    return service


def test_a_message_sent_by_the_official_sdk_is_accepted(server: SolapiStandIn) -> None:
    response = _service(server).send(
        Message(from_="02-1234-5678", to="010-9876-5432", text=SMS_BODY)
    )

    assert server.rejections == []
    [sent] = response.message_list or []
    assert sent.status_code == "2000"
    assert response.group_info.count.registered_success == 1
    [record] = server.accepted
    assert record["provider_id"] == sent.message_id
    # The SDK sends no type: the stand-in detects SMS as Solapi does (90 bytes or less).
    assert (record["kind"], record["to"], record["body"]) == ("SMS", DIGITS, SMS_BODY)
    [(method, path, headers)] = server.seen
    assert (method, path) == ("POST", "/messages/v4/send-many/detail")
    assert headers["Authorization"].startswith("HMAC-SHA256 ApiKey=")


def test_an_lms_without_a_subject_from_the_sdk_is_accepted(server: SolapiStandIn) -> None:
    response = _service(server).send(Message(from_=server.sender, to=DIGITS, text=LMS_BODY))

    assert (response.message_list or [])[0].status_code == "2000", server.rejections
    assert server.accepted[0]["kind"] == "LMS"
    assert server.accepted[0]["subject"] is None


def test_the_sdk_reads_receipts_and_so_does_our_provider(server: SolapiStandIn) -> None:
    service = _service(server)
    sent = service.send(Message(from_=server.sender, to=DIGITS, text=SMS_BODY)).message_list
    assert sent
    message_id = sent[0].message_id

    listing = service.get_messages(GetMessagesRequest(message_id=message_id))

    assert server.seen[-1][:2] == ("GET", "/messages/v4/list-old")
    assert listing.message_list[message_id].status_code == "4000"
    provider = provider_from_url(server.url_spec())
    try:
        server.mark(message_id, "failed")
        assert provider.receipt(message_id) == "failed"
    finally:
        provider.close()
    assert server.rejections == []


def test_the_sdk_sees_a_refused_registration(server: SolapiStandIn) -> None:
    with pytest.raises(MessageNotReceivedError):
        _service(server).send(Message(from_="0299998888", to=DIGITS, text=SMS_BODY))
    assert server.accepted == []


def test_the_sdk_with_a_wrong_secret_is_refused(server: SolapiStandIn) -> None:
    with pytest.raises(Exception, match="SignatureDoesNotMatch"):
        _service(server, secret="wrong-secret-000").send(
            Message(from_=server.sender, to=DIGITS, text=SMS_BODY)
        )
    assert server.accepted == []
