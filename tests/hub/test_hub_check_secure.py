"""``anbu hub --check`` against the broker as shipped: TLS, dynamic security, the hub's user
bound to its client id (the ``secure`` fixture of tests/hub/test_broker_security.py)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import free_port
from tests.hub.test_broker_security import (  # noqa: F401 - fixtures used by name below
    HUB_CLIENT_ID,
    SecureBroker,
    secure,
    tls_dir,
)
from tests.hub.test_hub_check import check, lines_of


def secure_env(broker: SecureBroker, url: str, **more: str) -> dict[str, str]:
    return {
        "ANBU_MQTT_URL": url,
        "ANBU_MQTT_CLIENT_ID": HUB_CLIENT_ID,
        "ANBU_MQTT_CA_FILE": str(broker.ca_file),
        "ANBU_HTTP": f"127.0.0.1:{free_port()}",  # no hub running
        **more,
    }


def test_the_hubs_own_identity_passes(tmp_path: Path, secure: SecureBroker) -> None:  # noqa: F811
    result = check(tmp_path, **secure_env(secure, secure.hub_url()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines_of(result)["브로커"].startswith("ok")


def test_a_wrong_password_fails_clearly(tmp_path: Path, secure: SecureBroker) -> None:  # noqa: F811
    url = f"mqtts://anbu-hub:not-the-password@127.0.0.1:{secure.port}"
    result = check(tmp_path, **secure_env(secure, url))
    line = lines_of(result)["브로커"]
    assert result.returncode == 1
    assert line.startswith("FAIL")
    assert "refused" in line
    assert "not-the-password" not in result.stdout + result.stderr


def test_an_unknown_certificate_authority_fails_clearly(
    tmp_path: Path,
    secure: SecureBroker,  # noqa: F811
) -> None:
    env = secure_env(secure, secure.hub_url())
    del env["ANBU_MQTT_CA_FILE"]  # the system's CAs do not know the district's own CA
    result = check(tmp_path, **env)
    line = lines_of(result)["브로커"]
    assert result.returncode == 1
    assert line.startswith("FAIL")
    assert "certificate verify failed" in line
