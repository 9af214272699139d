"""Email and webhook alerts through apprise, checked against real local HTTP and SMTP servers."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from hub.notify.channels import ChannelMessage, ChannelResult, ExtraChannels, redact
from tests.conftest import free_port

TITLE = "[안부] 긴급 호출: 김영희 님 (유성구)"
BODY = "응급 버튼이 눌렸습니다.\n보호자: 010-0000-0000 — 즉시 확인해 주세요."
MESSAGE = ChannelMessage(title=TITLE, body=BODY, kind="emergency", alert_id="a-1", resident="r1")
SECRET = "s3cr3t-Tok3n"

# The test relay takes AUTH over plain TCP (no certificates in tests); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes


@dataclass
class Webhook:
    port: int
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


SLOW_LIMIT_S = 10.0  # a /slow request hangs until the test ends, at most this long


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """Records every POST; ``/fail...`` answers 500, ``/slow...`` only once the test is over
    (or after ``SLOW_LIMIT_S``), anything else 200."""
    hook = Webhook(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            hook.received.append(
                Received(self.path, self.headers.get("Content-Type", ""), self.rfile.read(length))
            )
            if self.path.startswith("/slow"):
                hook.release.wait(SLOW_LIMIT_S)  # hanging is the point: no answer in time
            self.send_response(500 if self.path.startswith("/fail") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mailbox:
    port: int
    logins: list[tuple[str, str]] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) that demands AUTH, as a relay the centre uses would."""
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            box.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
            )
            return "250 Message accepted for delivery"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        box.logins.append((login, password))
        # handled=False: let aiosmtpd answer 535 itself instead of leaving the client waiting.
        return AuthResult(success=(login, password) == ("user", SECRET), handled=False)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def test_json_webhook_receives_the_documented_fields_with_korean_intact(webhook: Webhook) -> None:
    channels = ExtraChannels([f"json://127.0.0.1:{webhook.port}/anbu/alerts"])
    assert channels.configured

    result = channels.send(MESSAGE)

    assert result.delivered, result
    assert result.failed_urls == 0
    assert result.error is None
    [hit] = webhook.received
    assert hit.path == "/anbu/alerts"
    assert hit.content_type == "application/json"
    payload = json.loads(hit.body.decode("utf-8"))
    # apprise's JSON plugin: version, title, message, attachments, type.
    assert payload["version"] == "1.0"
    assert payload["title"] == TITLE
    assert payload["message"] == BODY
    assert payload["attachments"] == []
    # An emergency goes out as apprise's most severe type.
    assert payload["type"] == "failure"


def test_notify_type_follows_the_alert_kind(webhook: Webhook) -> None:
    channels = ExtraChannels([f"json://127.0.0.1:{webhook.port}/t"])
    for kind in ("digest", "inactivity"):
        assert channels.send(ChannelMessage("t", "b", kind, None, None)).delivered
    types = [json.loads(hit.body)["type"] for hit in webhook.received]
    assert types == ["info", "warning"]


def test_form_and_xml_webhooks_carry_korean_as_utf8(webhook: Webhook) -> None:
    channels = ExtraChannels(
        [f"form://127.0.0.1:{webhook.port}/form", f"xml://127.0.0.1:{webhook.port}/xml"]
    )

    result = channels.send(MESSAGE)

    assert result == ChannelResult(delivered=True, failed_urls=0)
    by_path = {hit.path: hit for hit in webhook.received}
    form = by_path["/form"]
    assert form.content_type == "application/x-www-form-urlencoded"
    fields = parse_qs(form.body.decode("ascii"), encoding="utf-8", strict_parsing=True)
    assert fields["title"] == [TITLE]
    assert fields["message"] == [BODY]
    assert fields["type"] == ["failure"]

    xml = by_path["/xml"]
    assert xml.content_type == "application/xml"
    root = ET.fromstring(xml.body)  # noqa: S314 - our own test server's bytes
    notification = root.find(".//{*}Notification")
    assert notification is not None
    assert notification.findtext("{*}Subject") == TITLE
    assert notification.findtext("{*}Message") == BODY
    assert notification.findtext("{*}MessageType") == "failure"


def test_email_arrives_with_korean_subject_and_body(mailbox: Mailbox) -> None:
    url = (
        f"mailto://user:{SECRET}@127.0.0.1:{mailbox.port}"
        "?from=anbu@example.org&to=centre@example.org&mode=insecure"
    )
    channels = ExtraChannels([url])

    result = channels.send(MESSAGE)

    assert result.delivered, result
    assert mailbox.logins == [("user", SECRET)]
    [(mail_from, rcpt_tos, raw)] = mailbox.envelopes
    assert mail_from == "anbu@example.org"
    assert rcpt_tos == ["centre@example.org"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == TITLE
    assert message["To"] == "centre@example.org"
    # body_format=text: one plain-text UTF-8 part, no HTML rendering of the alert.
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    # SMTP carries lines as CRLF; the text itself must be untouched.
    assert message.get_content().replace("\r\n", "\n").strip() == BODY


def test_email_refused_login_is_a_failed_url(mailbox: Mailbox) -> None:
    url = (
        f"mailto://user:wrong@127.0.0.1:{mailbox.port}"
        "?from=anbu@example.org&to=centre@example.org&mode=insecure"
    )
    result = ExtraChannels([url]).send(MESSAGE)
    assert (result.delivered, result.failed_urls) == (False, 1)
    assert mailbox.envelopes == []


def test_a_server_answering_500_is_a_failed_url_not_an_exception(webhook: Webhook) -> None:
    result = ExtraChannels([f"json://user:{SECRET}@127.0.0.1:{webhook.port}/fail"]).send(MESSAGE)

    assert result.delivered is False
    assert result.failed_urls == 1
    assert result.error is not None
    assert "#0" in result.error
    assert SECRET not in result.error
    assert len(webhook.received) == 1


def test_an_unreachable_port_is_a_failed_url_not_an_exception() -> None:
    result = ExtraChannels([f"json://127.0.0.1:{free_port()}/hook"]).send(MESSAGE)
    assert (result.delivered, result.failed_urls) == (False, 1)
    assert result.error is not None


def test_a_hanging_server_is_cut_off_at_the_timeout(webhook: Webhook) -> None:
    channels = ExtraChannels([f"json://127.0.0.1:{webhook.port}/slow"], timeout_s=1.0)
    started = time.monotonic()
    result = channels.send(MESSAGE)
    assert time.monotonic() - started < 2.5
    assert (result.delivered, result.failed_urls) == (False, 1)


def test_failures_are_counted_per_url(webhook: Webhook) -> None:
    channels = ExtraChannels(
        [
            f"json://127.0.0.1:{webhook.port}/ok",
            f"json://127.0.0.1:{webhook.port}/fail",
            f"json://127.0.0.1:{free_port()}/down",
            # optional=yes makes apprise call the URL a success; it still failed to deliver.
            f"json://127.0.0.1:{webhook.port}/fail-optional?optional=yes",
        ]
    )

    result = channels.send(MESSAGE)

    assert result.delivered is False
    assert result.failed_urls == 3
    assert result.error is not None
    assert result.error.startswith("3 of 4 failed")
    assert "#0" not in result.error
    for index in ("#1", "#2", "#3"):
        assert index in result.error
    assert sorted(hit.path for hit in webhook.received) == ["/fail", "/fail-optional", "/ok"]


@pytest.mark.parametrize(
    "bad",
    [
        f"mailto://user:{SECRET}@127.0.0.1?to=not-an-address",
        f"tgram://{SECRET}/",
        f"nosuchscheme://user:{SECRET}@example.org",
        SECRET,
        "",
    ],
)
def test_a_bad_url_is_refused_by_index_without_its_secret(
    bad: str, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    good = f"json://127.0.0.1:{webhook.port}/ok"
    with caplog.at_level(logging.DEBUG), pytest.raises(ValueError, match=r"\[1\]") as raised:
        ExtraChannels([good, bad])
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None
    # apprise's own complaint about the URL is logged, with the secret scrubbed out.
    assert SECRET not in caplog.text


def test_apprise_logs_never_carry_url_secrets(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    channels = ExtraChannels([f"json://user:{SECRET}@127.0.0.1:{webhook.port}/fail"])
    with caplog.at_level(logging.DEBUG):
        channels.send(MESSAGE)
    apprise_records = [r for r in caplog.records if r.name == "apprise"]
    # apprise's failure warning still reaches the log...
    assert any(r.levelno == logging.WARNING for r in apprise_records)
    # ...but its DEBUG chatter (payloads with a resident's details, loaded URLs) does not.
    assert all(r.levelno >= logging.WARNING for r in apprise_records)
    assert SECRET not in caplog.text
    assert BODY not in caplog.text


def test_no_urls_means_not_configured_and_nothing_delivered() -> None:
    channels = ExtraChannels([])
    assert not channels.configured
    result = channels.send(MESSAGE)
    assert (result.delivered, result.failed_urls) == (False, 0)


def test_redact_keeps_scheme_and_host_only() -> None:
    redacted = redact("mailto://user:secret@host")
    assert "user" not in redacted
    assert "secret" not in redacted
    assert redacted.startswith("mailto://")
    assert (
        redact(f"mailtos://centre:{SECRET}@smtp.example.org:465/?to=a@example.org")
        == "mailtos://smtp.example.org"
    )
    assert redact(f"json://u:{SECRET}@10.0.0.5:8080/hook?token={SECRET}") == "json://10.0.0.5"
    # Where apprise puts a token in the host slot, the host is hidden too.
    assert redact(f"tgram://123456:{SECRET}/987") == "tgram://***"
    assert redact(f"ntfy://{SECRET}") == "ntfy://***"
    assert redact(SECRET) == "<redacted>"
