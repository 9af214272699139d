"""The device config files an applied roster's provisioning produced, written once to a folder.

Owns how ``anbu roster import --apply --configs DIR`` delivers what
:func:`hub.roster_provision.provision_roster` answered: one file per provisioned device,
``DIR/{resident}.{device}.toml`` (the device's ``anbu edge --config``, its password in it and
nowhere else), created mode 600 with ``O_EXCL`` and ``O_NOFOLLOW``, so an existing file or a
planted link is never written through or replaced; and the broker's CA beside them as
``anbu-ca.crt`` when the broker uses a private one. A folder it creates is mode 700.

:func:`delivered` turns the provisioning answer into one without secrets (the files' paths
instead of the credentials), which is all the command prints: a device whose file could not
be written joins ``not_provisioned``, since no one has its password, with the command that
provisions it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hub.roster_provision import retry_command

__all__ = ["CA_FILE", "config_path", "delivered", "existing_configs", "prepare_folder"]

CA_FILE = "anbu-ca.crt"
MSG_NOT_WRITTEN = (
    "인증은 발급되었지만 설정 파일을 쓰지 못했습니다 — 다시 발급해 주세요 / "
    "provisioned, but its config file was not written"
)
MSG_NO_FOLDER = "--configs 가 없어 설정 파일을 쓰지 않았습니다 / no --configs DIR was given"


def config_path(folder: Path, resident: str, device: str) -> Path:
    """Where a device's config goes (ids are ``A-Z a-z 0-9 _ -``: safe as file names)."""
    return folder / f"{resident}.{device}.toml"


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` (mode 700) if it does not exist; OSError if it cannot be."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not folder.is_dir():
        raise NotADirectoryError(str(folder))


def existing_configs(folder: Path, devices: Iterable[Mapping[str, str]]) -> list[Path]:
    """The config files of ``devices`` that already exist (or are links) in ``folder``."""
    paths = (config_path(folder, d["resident"], d["device"]) for d in devices)
    return [path for path in paths if path.is_symlink() or path.exists()]


def delivered(provisioning: Mapping[str, Any], folder: Path | None) -> dict[str, Any]:
    """Write each provisioned device's config into ``folder`` (none when it is None) and
    answer ``provisioning`` without any secret: ``configs`` (``resident``, ``device``,
    ``kind``, ``file``) for the files written, ``ca_file`` when one was written or kept,
    and ``not_provisioned`` grown by the devices whose file was not written."""
    configs: list[dict[str, str]] = []
    missing: list[dict[str, str]] = list(provisioning["not_provisioned"])
    ca_file: str | None = None
    for credentials in provisioning["credentials"]:
        resident, device = credentials["resident"], credentials["device"]
        kind = str(credentials["kind"])
        if folder is None:
            missing.append(_not_written(resident, device, kind, MSG_NO_FOLDER))
            continue
        path = config_path(folder, resident, device)
        try:
            _create(path, credentials["config_toml"], 0o600)
        except OSError as error:
            # The error names the path only (strerror), never the file's contents.
            missing.append(_not_written(resident, device, kind, error.strerror or "OSError"))
            continue
        configs.append({"resident": resident, "device": device, "kind": kind, "file": str(path)})
        if credentials.get("ca_pem") and ca_file is None:
            ca_file = _ca(folder, credentials["ca_pem"])
    return {
        "provisioned": provisioning["provisioned"],
        "configs": configs,
        "ca_file": ca_file,
        "not_provisioned": missing,
        "error": provisioning["error"],
    }


def _not_written(resident: str, device: str, kind: str, why: str) -> dict[str, str]:
    return {
        "resident": resident,
        "device": device,
        "kind": kind,
        "message": f"{MSG_NOT_WRITTEN}: {why}",
        "retry": retry_command(resident, device),
    }


def _create(path: Path, text: str, mode: int) -> None:
    """A new file of our own, never one that exists: O_EXCL fails on a file or a link."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _ca(folder: Path, pem: str) -> str | None:
    """The CA beside the configs: written if absent, kept if it is the same certificate;
    None (nothing replaced) if another file is there."""
    path = folder / CA_FILE
    try:
        _create(path, pem, 0o644)
    except FileExistsError:
        same = not path.is_symlink() and path.read_text(encoding="ascii", errors="replace") == pem
        return str(path) if same else None
    return str(path)
