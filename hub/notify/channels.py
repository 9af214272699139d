"""Extra alert channels (email, webhooks) through ``apprise``, configured by ``ANBU_NOTIFY_URLS``.

This module owns turning a list of apprise URLs into one reusable apprise instance, sending a
``ChannelMessage`` to every URL and reporting how many URLs failed, and keeping the secrets in
those URLs (SMTP passwords, webhook tokens) out of exceptions, results and logs. SMS stays with
``hub.notify.providers``; retry policy stays with the dispatcher.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
import structlog

log = structlog.get_logger(__name__)

# apprise's scheme for the most severe notice is "failure"; a webhook receiver or mail filter
# keys on this ``type`` field, so an emergency must not look like routine information.
_NOTIFY_TYPE_BY_KIND: dict[str, apprise.NotifyType] = {
    "emergency": apprise.NotifyType.FAILURE,
    "digest": apprise.NotifyType.INFO,
}
_DEFAULT_NOTIFY_TYPE = apprise.NotifyType.WARNING

_SCHEME_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9-]{1,63}$")
_TAG_PREFIX = "anbu-url-"


def redact(url: str) -> str:
    """``scheme://host`` of an apprise URL for logs, or ``scheme://***`` if the host is a secret.

    For many apprise schemes the "host" slot holds a token (``tgram://BOT_TOKEN``, an ntfy
    topic), so the host is shown only when the scheme declares a real host and the value looks
    like a network name or address; user, password, port, path and query are always dropped.
    """
    match = _SCHEME_PREFIX.match(url.strip())
    if match is None:
        return "<redacted>"
    scheme = match.group(1).lower()
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        host = None
    if host and _scheme_has_network_host(scheme) and _looks_like_network_host(host):
        return f"{scheme}://{host}"
    return f"{scheme}://***"


def _plugins() -> apprise.NotificationManager:
    # A process-wide singleton in apprise: every call returns the same loaded plugin table.
    return apprise.NotificationManager()  # type: ignore[no-untyped-call]


def _scheme_has_network_host(scheme: str) -> bool:
    manager = _plugins()
    if scheme not in manager:
        return False
    return "host" in getattr(manager[scheme], "template_tokens", {})


def _looks_like_network_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    if host == "localhost":
        return True
    # A bare word (no dot) is more often a topic or token than a resolvable name.
    labels = host.split(".")
    return len(labels) > 1 and all(_HOST_LABEL.match(label) for label in labels)


class _ScrubApprise(logging.Filter):
    """Rewrites every URL in an apprise log record to its ``redact`` form.

    apprise masks passwords itself, but not everywhere (an unparseable plugin URL is echoed
    whole at ERROR), and an Anbu log line ends up in files and log shippers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is apprise's bug; still keep the URL out
            text = str(record.msg)
        scrubbed = _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)
        if scrubbed != text or record.args:
            record.msg, record.args = scrubbed, None
        return True


_SCRUBBER = _ScrubApprise()


def _quiet_apprise_logging() -> None:
    apprise_log = logging.getLogger(apprise.LOGGER_NAME)
    # DEBUG records carry whole payloads (a resident's name and situation) and loaded URLs.
    if apprise_log.level < logging.WARNING:
        apprise_log.setLevel(logging.WARNING)
    if _SCRUBBER not in apprise_log.filters:
        apprise_log.addFilter(_SCRUBBER)


@dataclass(frozen=True)
class ChannelMessage:
    title: str
    body: str
    kind: str
    alert_id: str | None
    resident: str | None


@dataclass(frozen=True)
class ChannelResult:
    delivered: bool
    failed_urls: int
    error: str | None = None


class ExtraChannels:
    """Email and webhooks via apprise, configured by a list of apprise URLs (ANBU_NOTIFY_URLS).

    ``send`` goes to every URL; ``delivered`` is true only when every URL accepted the message.
    Errors name URLs by their index in the list and their ``redact`` form, never in full.
    """

    def __init__(self, urls: Sequence[str], *, timeout_s: float = 30.0) -> None:
        _quiet_apprise_logging()
        self._timeout_s = timeout_s
        self._labels: list[str] = []
        self._apprise = apprise.Apprise()
        manager = _plugins()
        for index, url in enumerate(urls):
            where = f"ANBU_NOTIFY_URLS[{index}]"
            match = _SCHEME_PREFIX.match(url.strip()) if isinstance(url, str) else None
            # Checked before apprise sees the string: apprise echoes a URL it cannot place.
            if match is None:
                raise ValueError(f"{where} is not a URL of the form scheme://...")
            if match.group(1).lower() not in manager:
                raise ValueError(f"{where} uses a scheme apprise does not know")
            # One instantiate per URL rather than ``Apprise.add(urls)``: add() drops a bad URL
            # and answers one bool for the lot, so the failing index would be unknown. The tag
            # lets ``send`` tie each per-service result back to its index.
            service = apprise.Apprise.instantiate(
                url.strip(), asset=self._apprise.asset, tag=f"{_TAG_PREFIX}{index}"
            )
            if service is None:
                # apprise has logged why (through _ScrubApprise); the error names only the index.
                raise ValueError(f"{where} cannot be parsed by apprise ({redact(url)})")
            self._apprise.add(service)
            self._labels.append(f"#{index} {redact(url)}")

    @property
    def configured(self) -> bool:
        return bool(self._labels)

    def send(self, message: ChannelMessage) -> ChannelResult:
        if not self._labels:
            return ChannelResult(delivered=False, failed_urls=0, error="no channels configured")
        try:
            result = self._apprise.notify(
                body=message.body,
                title=message.title,
                notify_type=_NOTIFY_TYPE_BY_KIND.get(message.kind, _DEFAULT_NOTIFY_TYPE),
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self._timeout_s,
            )
            with result:
                delivered_indices = _delivered_indices(result)
        except Exception as exc:
            # The exception text may quote a URL; its type is enough to go on.
            log.warning(
                "channels.send_crashed",
                error=type(exc).__name__,
                alert_id=message.alert_id,
                resident=message.resident,
            )
            return ChannelResult(
                delivered=False,
                failed_urls=len(self._labels),
                error=f"apprise raised {type(exc).__name__}",
            )
        failed = [
            label for index, label in enumerate(self._labels) if index not in delivered_indices
        ]
        if not failed:
            return ChannelResult(delivered=True, failed_urls=0)
        error = f"{len(failed)} of {len(self._labels)} failed: " + ", ".join(failed)
        log.warning(
            "channels.send_failed",
            failed=failed,
            kind=message.kind,
            alert_id=message.alert_id,
            resident=message.resident,
        )
        return ChannelResult(delivered=False, failed_urls=len(failed), error=error)


def _delivered_indices(result: apprise.AppriseResult) -> set[int]:
    """Indices of the URLs whose last attempt succeeded.

    Read from the per-service results rather than ``bool(result)``, and from the last attempt
    rather than ``NotifyResult.status``: apprise reports an ``optional=yes`` URL that failed as
    a success, and a URL that never ran (a call-level timeout) has no result at all.
    """
    delivered: set[int] = set()
    for service_result in result:
        attempts = service_result.attempts
        if not attempts or not attempts[-1]:
            continue
        for tag in service_result.tag:
            if tag.startswith(_TAG_PREFIX) and tag[len(_TAG_PREFIX) :].isdigit():
                delivered.add(int(tag[len(_TAG_PREFIX) :]))
    return delivered
