"""The SMS providers, one module each, and building one from its entry in ``ANBU_SMS``.

``log:PATH`` is :mod:`~hub.notify.providers.log`; the HTTP providers are
:mod:`~hub.notify.providers.nhn_cloud` (``nhn://``), :mod:`~hub.notify.providers.solapi`
(``solapi://``) and :mod:`~hub.notify.providers.aligo` (``aligo://``), on the shared
mechanics of :mod:`~hub.notify.providers.http` and built from a spec
:mod:`~hub.notify.providers.spec` parses. All are :class:`hub.notify.provider.SmsProvider`.
"""

from __future__ import annotations

from pathlib import Path

from alerts.clock import Clock
from hub.notify.provider import SmsProvider
from hub.notify.providers.aligo import AligoSms
from hub.notify.providers.http import HttpSmsProvider
from hub.notify.providers.log import DEFAULT_PATH, LogProvider
from hub.notify.providers.nhn_cloud import NhnCloudSms
from hub.notify.providers.solapi import SolapiSms
from hub.notify.providers.spec import parse_spec

__all__ = ["HTTP_PROVIDERS", "provider_from_spec", "provider_from_url"]

# By scheme, in the order error messages list them.
HTTP_PROVIDERS: dict[str, type[HttpSmsProvider]] = {
    cls.scheme: cls for cls in (NhnCloudSms, SolapiSms, AligoSms)
}


def provider_from_url(spec: str) -> HttpSmsProvider:
    """Build the HTTP provider a spec names; ``ValueError`` (never echoing the secret) if bad."""
    parsed = parse_spec(spec, HTTP_PROVIDERS)
    return HTTP_PROVIDERS[parsed.scheme](parsed)


def provider_from_spec(spec: str, clock: Clock | None = None) -> SmsProvider:
    """Build the provider one ``ANBU_SMS`` entry names: ``log:PATH`` or an HTTP spec."""
    if spec.startswith("log:"):
        return LogProvider(Path(spec[4:] or DEFAULT_PATH), clock)
    if "://" in spec:
        return provider_from_url(spec)
    scheme = spec.split(":", 1)[0]
    supported = ", ".join(["log:PATH", *(f"{s}://" for s in HTTP_PROVIDERS)])
    msg = f"ANBU_SMS: unknown SMS provider {scheme!r} (supported: {supported})"
    raise ValueError(msg)
