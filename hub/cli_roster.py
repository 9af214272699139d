"""``anbu roster import FILE [--apply]``: a district's roster from the command line.

The same reading, checks, Korean row errors and apply rules as ``POST /api/v1/roster``
(:mod:`hub.roster`): a dry run unless ``--apply``; only residents not yet registered are
created. Where the rows are applied matters: a running hub keeps a cache of who is
registered, so residents written into its database behind its back would be unknown to it
until it restarts (their devices' events dead-lettered as ``unknown_device``). So when a
hub answers at ``ANBU_HTTP``, ``--apply`` sends the file to that hub's API (with
``ANBU_ADMIN_TOKEN``); when none does, it registers the rows itself, through the hub core.

When the hub provisions devices (``ANBU_MQTT_ADMIN_USER``), every device the import
registers gets its own broker credentials (:mod:`hub.roster_provision`), and ``--configs
DIR`` is where their config files go, one per device, created once and never overwritten
(:mod:`hub.roster_configs`); with provisioning on and devices to register, ``--apply``
refuses to start without it, and before anything is registered it refuses a DIR that
already holds one of those files. Passwords go to those files only: the text and the
``--json`` answer name the files. A device the broker did not take (or whose file was not
written) is listed with the ``anbu devices provision`` command that makes it again, and the
exit status is 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli_support import fail, open_database, settings_or_exit

if TYPE_CHECKING:
    from hub.provisioning import Provisioner
    from hub.settings import Settings
    from hub.store.db import Engine

roster_app = typer.Typer(help="District rosters (CSV or XLSX).", no_args_is_help=True)

_HEALTH_TIMEOUT_S = 2.0
_UPLOAD_TIMEOUT_S = 300.0


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="The roster: .csv or .xlsx.")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Create the valid rows' new residents.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The API's JSON answer instead of text.")
    ] = False,
    configs: Annotated[
        Path | None,
        typer.Option(
            "--configs",
            help="With --apply and device provisioning on: write each new device's config "
            "file here (mode 600, never overwriting), with the broker's CA.",
        ),
    ] = None,
) -> None:
    """Check a roster (a dry run: every row's errors, in the district's own row numbers);
    ``--apply`` creates the residents not yet registered. Exit 1 if any row has errors.

    Examples: ``anbu roster import 명단.xlsx``; ``anbu roster import 명단.csv --apply``;
    ``anbu roster import 명단.csv --apply --configs ./device-configs``;
    ``anbu roster import 명단.xlsx --json``. Format: deploy/roster-sample.csv.
    """
    from hub.districts import index_in
    from hub.roster import read_roster
    from hub.roster_format import MAX_UPLOAD_BYTES, MSG_UPLOAD_TOO_LARGE

    if not file.is_file():
        raise fail(f"파일이 없습니다 / no such file: {file}", 2)
    # The API's limit and message, so a file the board refuses is refused here too.
    if file.stat().st_size > MAX_UPLOAD_BYTES:
        raise fail(MSG_UPLOAD_TOO_LARGE, 2)
    data = file.read_bytes()
    settings = settings_or_exit()
    with open_database(settings) as engine:
        # Each row's district must be one of the hub's, as the API's dry run checks it.
        report = read_roster(data, file.name, index_in(engine, settings.sido))
        result: dict[str, Any] = {"report": report.as_dict(), "applied": None}
        would = _would_create(settings, engine, report)
        if apply:
            provisioner = _provisioner(settings)
            _check_configs(provisioner, configs, would["registered_devices"])
            result = _apply(settings, engine, data, file.name, report, result, provisioner)
        else:
            result["would_create"] = would
    if result.get("provisioning") is not None:
        from hub.roster_configs import delivered

        # The passwords go to the files and nowhere else: what is printed names the files.
        result["provisioning"] = delivered(result["provisioning"], configs)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print(result, apply=apply)
    if (
        result["report"]["errors"]
        or (result["applied"] or {}).get("failed")
        or (result.get("provisioning") or {}).get("not_provisioned")
    ):
        raise typer.Exit(1)


def _provisioner(settings: Settings) -> Provisioner | None:
    """This machine's view of provisioning (the hub's too, when they share settings)."""
    from hub.provisioning import Provisioner, ProvisioningError

    try:
        return Provisioner.from_settings(settings)
    except ProvisioningError as error:
        raise fail(f"기기 인증 설정 오류 / provisioning: {error}", 2) from None


def _check_configs(
    provisioner: Provisioner | None, configs: Path | None, devices: list[dict[str, str]]
) -> None:
    """Before anything is registered: a folder for the config files when devices will be
    provisioned, that holds none of them yet (each is written once, never replaced)."""
    from hub.roster_configs import existing_configs, prepare_folder

    if configs is None:
        if provisioner is not None and devices:
            raise fail(
                f"기기 {len(devices)}대의 인증이 발급됩니다: 설정 파일을 쓸 --configs 폴더를 "
                f"주세요 / provisioning is on and {len(devices)} devices will be registered: "
                "give --configs DIR for their config files (each password is shown once)",
                2,
            )
        return
    try:
        prepare_folder(configs)
    except OSError as error:
        raise fail(f"--configs {configs}: {error.strerror or error}", 2) from None
    there = existing_configs(configs, devices)
    if there:
        names = ", ".join(path.name for path in there[:10])
        raise fail(
            f"--configs 폴더에 이미 설정 파일이 있습니다 / {configs} already holds "
            f"{len(there)} of the new devices' config files ({names}): nothing was applied; "
            "move them away or choose another folder",
            2,
        )


def _hub_answers(settings: Settings) -> bool:
    import httpx

    try:
        httpx.get(f"http://{settings.http}/health", timeout=_HEALTH_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return True  # any answer, 503 included: a hub is there, with its cache


def _core(settings: Settings, engine: Engine) -> Any:
    from alerts.engine import Escalation
    from hub.runtime import working_calendar
    from hub.service import HubCore

    return HubCore(engine, Escalation(working_calendar(settings)), settings)


def _would_create(settings: Settings, engine: Engine, report: Any) -> dict[str, Any]:
    from alerts.clock import SystemClock
    from hub.roster import apply_roster

    return apply_roster(report, _core(settings, engine), SystemClock().now(), dry_run=True)


def _apply(
    settings: Settings,
    engine: Engine,
    data: bytes,
    filename: str,
    report: Any,
    result: dict[str, Any],
    provisioner: Provisioner | None,
) -> dict[str, Any]:
    if _hub_answers(settings):
        return _apply_through_api(settings, data, filename)
    from alerts.clock import SystemClock
    from hub.roster import apply_roster
    from hub.roster_provision import provision_roster

    applied = apply_roster(report, _core(settings, engine), SystemClock().now())
    result["applied"] = applied
    result["applied_by"] = "this command"
    result["provisioning"] = (
        None
        if provisioner is None
        else provision_roster(applied["registered_devices"], provisioner)
    )
    return result


def _apply_through_api(settings: Settings, data: bytes, filename: str) -> dict[str, Any]:
    import httpx

    if settings.admin_token is None:
        raise fail(
            f"허브가 {settings.http} 에서 실행 중입니다: ANBU_ADMIN_TOKEN 이 있어야 그 허브로 "
            f"적용할 수 있습니다 / a hub is running at {settings.http}: --apply goes through "
            "its API and needs ANBU_ADMIN_TOKEN (or stop the hub first)"
        )
    answer = httpx.post(
        f"http://{settings.http}/api/v1/roster",
        params={"filename": filename, "apply": "true"},
        content=data,
        headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"},
        timeout=_UPLOAD_TIMEOUT_S,
    )
    if answer.status_code != 200:
        detail = (
            answer.json().get("detail")
            if answer.headers.get("content-type", "").startswith("application/json")
            else answer.text[:200]
        )
        raise fail(f"허브가 거절했습니다 / the hub refused ({answer.status_code}): {detail}")
    result: dict[str, Any] = answer.json()
    result["applied_by"] = f"the hub at {settings.http}"
    return result


def _print(result: dict[str, Any], *, apply: bool) -> None:
    report = result["report"]
    typer.echo(
        f"행 {report['rows']}개: 가져올 수 있음 {report['valid']}, 거부 {report['rejected']} / "
        f"{report['rows']} rows: {report['valid']} valid, {report['rejected']} rejected"
    )
    for kind, label in (("errors", "오류"), ("warnings", "경고")):
        for item in report[kind]:
            where = f"{item['row']}행" if item["row"] else "파일"
            column = f" [{item['column']}]" if item["column"] else ""
            typer.echo(f"  {label} {where}{column}: {item['message']}")
    applied: dict[str, Any] = result.get("applied") or {}
    if not apply:
        would = result["would_create"]
        typer.echo(
            f"새로 등록될 대상자 {would['created']}명, 이미 등록됨 {would['skipped_existing']}명 / "
            f"would create {would['created']}, {would['skipped_existing']} already registered"
        )
        typer.echo("적용하려면 --apply / nothing written: add --apply to import")
        return
    typer.echo(
        f"등록 {applied['created']}명, 이미 등록됨 {applied['skipped_existing']}명, "
        f"실패 {applied['failed']}명 / created {applied['created']}, "
        f"{applied['skipped_existing']} already registered, {applied['failed']} failed "
        f"({result.get('applied_by')})"
    )
    for failure in applied["failures"]:
        typer.echo(f"  실패 {failure['row']}행 ({failure['id']}): {failure['message']}")
    provisioning: dict[str, Any] | None = result.get("provisioning")
    if provisioning is None:
        return
    typer.echo(
        f"기기 인증 발급 {len(provisioning['configs'])}대, 안 됨 "
        f"{len(provisioning['not_provisioned'])}대 / {len(provisioning['configs'])} devices "
        f"provisioned, {len(provisioning['not_provisioned'])} not"
    )
    for config in provisioning["configs"]:
        typer.echo(f"  {config['resident']}/{config['device']}: {config['file']}")
    if provisioning["ca_file"]:
        typer.echo(f"  CA: {provisioning['ca_file']} (기기에는 / on the device: /etc/anbu/)")
    for device in provisioning["not_provisioned"]:
        typer.echo(
            f"  발급 안 됨 / not provisioned {device['resident']}/{device['device']}: "
            f"{device['message']} — {device['retry']}"
        )
