"""A test or demo Mosquitto with the shipped security: TLS and the dynamic security plugin.

Owns :class:`BrokerSecurity` (where the certificates are, the dynsec admin identity) and the
pieces :class:`~hub.broker.mosquitto.MosquittoBroker` adds to its configuration when given
one: a TLS listener instead of the plain one, no anonymous access, and the plugin with its
JSON state file, created with ``mosquitto_ctrl dynsec init`` on first start. The certificates
come from ``deploy/mosquitto/make-ca.sh`` (:func:`make_test_ca` runs it), so the tests use
the same script a district does.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hub.broker.base import BrokerError

__all__ = [
    "DYNSEC_PLUGIN_PATHS",
    "BrokerSecurity",
    "find_dynsec_plugin",
    "make_test_ca",
    "secure_listener_lines",
]

#: Where Debian/Ubuntu (per architecture) and source builds install the plugin.
DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/*-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
_REPO = Path(__file__).resolve().parents[2]
MAKE_CA = _REPO / "deploy" / "mosquitto" / "make-ca.sh"


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """TLS files (``ca.crt``, ``server.crt``, ``server.key`` in ``tls_dir``) and the dynsec
    admin identity the broker is initialised with."""

    tls_dir: Path
    admin_username: str = "anbu-admin"
    admin_password: str = field(default="", repr=False)

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.crt"


def find_dynsec_plugin() -> str | None:
    """Path of ``mosquitto_dynamic_security.so``, if installed."""
    for pattern in DYNSEC_PLUGIN_PATHS:
        for found in sorted(glob.glob(pattern)):
            if os.access(found, os.R_OK):
                return found
    return None


def make_test_ca(directory: Path, *hostnames: str) -> Path:
    """Run ``deploy/mosquitto/make-ca.sh`` into ``directory``; returns it."""
    names = hostnames or ("localhost",)
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run(  # noqa: S603 - the repository's own script, fixed argv
        [bash, str(MAKE_CA), str(directory), *names],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BrokerError(f"make-ca.sh failed: {result.stderr.strip()}")
    return directory


def init_dynsec(state_file: Path, security: BrokerSecurity) -> None:
    """Create the plugin's state file with only the admin client (``mosquitto_ctrl``)."""
    if state_file.exists():
        return
    ctrl = shutil.which("mosquitto_ctrl") or "/usr/bin/mosquitto_ctrl"
    if not os.access(ctrl, os.X_OK):
        raise BrokerError("mosquitto_ctrl not found (apt-get install -y mosquitto-clients)")
    if not security.admin_password:
        raise BrokerError("BrokerSecurity needs an admin password")
    # The password is on this child's argv for a moment: acceptable for a throwaway test or
    # demo broker on loopback; deploy/mosquitto/README.md has the interactive form.
    result = subprocess.run(  # noqa: S603 - fixed argv
        [ctrl, "dynsec", "init", str(state_file), security.admin_username, security.admin_password],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not state_file.exists():
        raise BrokerError(f"mosquitto_ctrl dynsec init failed: {result.stderr.strip()}")


def secure_listener_lines(
    port: int, host: str, security: BrokerSecurity, workdir: Path
) -> list[str]:
    """Configuration lines for a TLS listener with the dynamic security plugin."""
    plugin = find_dynsec_plugin()
    if plugin is None:
        raise BrokerError(
            "mosquitto_dynamic_security.so not found (Mosquitto >= 2.0 ships it); "
            f"looked in {', '.join(DYNSEC_PLUGIN_PATHS)}"
        )
    for name in ("ca.crt", "server.crt", "server.key"):
        if not (security.tls_dir / name).is_file():
            raise BrokerError(f"{security.tls_dir / name} is missing (make-ca.sh makes it)")
    state_file = workdir / "dynamic-security.json"
    init_dynsec(state_file, security)
    return [
        f"listener {port} {host}",
        f"cafile {security.tls_dir / 'ca.crt'}",
        f"certfile {security.tls_dir / 'server.crt'}",
        f"keyfile {security.tls_dir / 'server.key'}",
        "tls_version tlsv1.2",
        "allow_anonymous false",
        f"plugin {plugin}",
        f"plugin_opt_config_file {state_file}",
    ]
