"""The URL spec an HTTP SMS provider is built from: parsed, checked, its secret kept out of sight.

A spec names the provider by its scheme, so a chain of them fits in one setting::

    nhn://APPKEY:SECRETKEY@sms.api.nhncloudservice.com?sender=0212345678
    solapi://APIKEY:APISECRET@api.solapi.com?sender=0212345678
    aligo://USERID:APIKEY@apis.aligo.in?sender=0212345678

Options: ``tls=no`` (plain http, for the local stand-ins), ``timeout=SECONDS`` (default 5),
and for Aligo ``testmode=yes`` (the API's ``testmode_yn=Y``). Credentials with reserved
characters must be percent-encoded. A spec that is wrong is refused with a message naming
the part that is wrong, never its value. Owns also :func:`phone_digits`, the form providers
want both the sender and the recipient in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from hub.notify.providers.http import HttpSmsProvider

__all__ = ["DEFAULT_TIMEOUT_S", "Spec", "parse_spec", "phone_digits"]

DEFAULT_TIMEOUT_S = 5.0


def phone_digits(number: str) -> str | None:
    """A Korean number as the digits providers expect (``+82 10-1234-5678`` → ``01012345678``).

    ``None`` when it is not a plausible domestic number; the caller reports that without
    echoing the number.
    """
    compact = re.sub(r"[\s\-().]", "", number)
    if compact.startswith("+82"):
        rest = compact[3:]
        compact = rest if rest.startswith("0") else "0" + rest
    elif compact.startswith("0082"):
        rest = compact[4:]
        compact = rest if rest.startswith("0") else "0" + rest
    if not compact.isdigit() or not compact.startswith(("0", "1")):
        return None
    # Domestic numbers run from 8 digits (1588-xxxx) to 11 (010-xxxx-xxxx); 12 covers
    # the rare 050x virtual numbers.
    if not 8 <= len(compact) <= 12:
        return None
    return compact


@dataclass(frozen=True, slots=True)
class Spec:
    """A parsed provider spec: where to send, as whom, and how patiently."""

    scheme: str
    user: str
    secret: str = field(repr=False)  # a logged spec must not carry it
    host: str
    port: int | None
    sender: str
    tls: bool
    timeout: float
    testmode: bool

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{'https' if self.tls else 'http'}://{host}{port}"


_OPTIONS = {"sender", "tls", "timeout", "testmode"}
_YES = {"yes", "true", "1", "on"}
_NO = {"no", "false", "0", "off"}


def parse_spec(spec: str, providers: Mapping[str, type[HttpSmsProvider]]) -> Spec:
    """Parse a spec for one of ``providers`` (by scheme); ``ValueError`` if it is wrong."""
    # Messages below name the part that is wrong, never its value: the spec holds a secret.
    scheme, sep, _ = spec.partition("://")
    scheme = scheme.strip().lower()
    if not sep or scheme not in providers:
        known = ", ".join(s + "://" for s in providers)
        msg = f"SMS provider spec must start with one of {known}"
        raise ValueError(msg)
    provider = providers[scheme]
    label = f"{scheme}:// spec"
    try:
        parts = urlsplit(spec.strip())
        port = parts.port
    except ValueError:
        msg = f"{label}: could not be parsed (percent-encode reserved characters in credentials)"
        raise ValueError(msg) from None
    if parts.path not in ("", "/") or parts.fragment:
        msg = f"{label}: unexpected path or fragment (percent-encode '/' or '#' in credentials)"
        raise ValueError(msg)
    if not parts.hostname:
        msg = f"{label}: host is missing"
        raise ValueError(msg)
    user = unquote(parts.username or "")
    secret = unquote(parts.password or "")
    first, second = provider.credentials
    for value, what in ((user, first), (secret, second)):
        if not value:
            msg = f"{label}: {what} is missing (expected {scheme}://USER:SECRET@host)"
            raise ValueError(msg)
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OPTIONS:
            msg = f"{label}: unknown option {name!r} (known: {', '.join(sorted(_OPTIONS))})"
            raise ValueError(msg)
        options[name] = value
    sender = phone_digits(options.get("sender", ""))
    if sender is None:
        msg = f"{label}: sender= must be the registered sending number, e.g. 0212345678"
        raise ValueError(msg)
    tls = _flag(options.get("tls", "yes"), label, "tls")
    testmode = _flag(options.get("testmode", "no"), label, "testmode")
    if testmode and not provider.has_testmode:
        understood = ", ".join(s + "://" for s, p in providers.items() if p.has_testmode)
        msg = f"{label}: testmode= is only understood by {understood}"
        raise ValueError(msg)
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT_S))
    except ValueError:
        msg = f"{label}: timeout= must be a number of seconds"
        raise ValueError(msg) from None
    if not 0 < timeout <= 120:  # a page waiting minutes helps nobody
        msg = f"{label}: timeout= must be between 0 and 120 seconds"
        raise ValueError(msg)
    return Spec(
        scheme=scheme,
        user=user,
        secret=secret,
        host=parts.hostname,
        port=port,
        sender=sender,
        tls=tls,
        timeout=timeout,
        testmode=testmode,
    )


def _flag(value: str, label: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    msg = f"{label}: {name}= must be yes or no"
    raise ValueError(msg)
