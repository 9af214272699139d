"""``anbu users add|list|revoke``: the API's users (operators, district officials, admins).

The same users ``POST /api/v1/users`` creates, stored through :mod:`hub.store.users` with
the API's own rules (:class:`hub.api.schemas.UserIn`, :func:`hub.api.auth.create_user`): a
token is shown once, only its hash is kept; an official needs a district. A revoked token
stops working at the hub's next request (tokens are looked up per request, never cached).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hub.cli_support import fail, open_database, settings_or_exit

users_app = typer.Typer(
    help="The API's users: operators, district officials, visiting nurses and admins.",
    no_args_is_help=True,
)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="Shown on alert timelines, e.g. 김관제.")],
    role: Annotated[str, typer.Option(help="operator, official, health_center or admin.")],
    district: Annotated[
        str | None,
        typer.Option(help="An official's or nurse's district, e.g. 유성구 (those two only)."),
    ] = None,
) -> None:
    """Create a user and print their token, once (only its hash is kept).

    Examples:
    ``anbu users add --name 김관제 --role operator``;
    ``anbu users add --name 박주무관 --role official --district 유성구``;
    ``anbu users add --name 이간호 --role health_center --district 유성구``;
    ``anbu users add --name 설치담당 --role admin``.
    """
    from pydantic import ValidationError

    from alerts.clock import SystemClock
    from hub.api.auth import create_user
    from hub.api.schemas import UserIn
    from protocol.vocab import DISTRICT_ROLES

    try:
        user = UserIn(name=name, role=role, district=district)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        roles = "operator, official, health_center, admin"
        raise fail(f"--{field}: {first['msg']} (role: {roles})", 2) from None
    if user.role in DISTRICT_ROLES and not user.district:
        raise fail("공무원과 방문간호사는 --district 가 필요합니다 / they need --district", 2)
    from hub.districts import DistrictError, resolve_in

    settings = settings_or_exit()
    with open_database(settings) as engine:
        if user.role in DISTRICT_ROLES and user.district:
            try:  # one of the hub's districts, stored by its canonical name
                user.district = resolve_in(engine, user.district, settings.sido).name
            except DistrictError as error:
                raise fail(f"--district: {error.message}", 2) from None
        user_id, token = create_user(
            engine, user.name, user.role, user.district, SystemClock().now()
        )
    district_note = f" ({user.district})" if user.role in DISTRICT_ROLES else ""
    typer.echo(
        f"사용자 {user_id} 생성 / created user {user_id}: {user.name}, {user.role}{district_note}"
    )
    typer.echo("토큰은 지금 한 번만 표시됩니다 / the token is shown only now:")
    typer.echo(token)


@users_app.command("list")
def users_list(
    all_users: Annotated[bool, typer.Option("--all", help="Revoked users too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """The users, by id (never their tokens).

    Examples: ``anbu users list``; ``anbu users list --all --json``.
    """
    from zoneinfo import ZoneInfo

    from hub.store.db import reading
    from hub.store.users import list_users

    settings = settings_or_exit()
    with open_database(settings) as engine, reading(engine) as conn:
        users = list_users(conn, include_revoked=all_users)
    zone = ZoneInfo(settings.tz)
    for user in users:
        created = user.created_at.astimezone(zone).isoformat(timespec="seconds")
        revoked = (
            user.revoked_at.astimezone(zone).isoformat(timespec="seconds")
            if user.revoked_at
            else None
        )
        if as_json:
            row = {
                "id": user.id,
                "name": user.name,
                "role": user.role,
                "district": user.district,
                "created_at": created,
                "revoked_at": revoked,
            }
            typer.echo(json.dumps(row, ensure_ascii=False))
            continue
        state = f"revoked {revoked}" if revoked else "active"
        typer.echo(
            f"{user.id:>5}  {user.name}  {user.role}  {user.district or '-'}  "
            f"created {created}  {state}"
        )
    if not users and not as_json:
        typer.echo("사용자가 없습니다 / no users")


@users_app.command("revoke")
def users_revoke(
    user_id: Annotated[int, typer.Argument(help="The user's id (anbu users list).")],
) -> None:
    """Revoke a user's token; the hub refuses it from its next request on.

    Example: ``anbu users revoke 7``.
    """
    from alerts.clock import SystemClock
    from hub.store.db import writing
    from hub.store.users import revoke_user

    settings = settings_or_exit()
    with open_database(settings) as engine, writing(engine) as conn:
        revoked = revoke_user(conn, user_id, SystemClock().now())
    if revoked is None:
        raise fail(f"사용자 {user_id} 없음 / no user {user_id}")
    if revoked:
        typer.echo(f"사용자 {user_id} 해지 / revoked user {user_id}")
    else:
        typer.echo(f"사용자 {user_id}: 이미 해지됨 / user {user_id} was already revoked")
