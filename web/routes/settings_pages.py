"""Settings: your account, API tokens, the organisation, its members and coalitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from crm import accounts, audit, coalitions
from crm.errors import InvalidInput
from crm.i18n import N_
from web.deps import CurrentAuth, Id, SessionDep, SettingsDep, rollback
from web.forms import form_dict, optional_int
from web.rendering import render

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    notice: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {
        "tokens": await accounts.list_api_tokens(session, actor=auth.actor),
        "members": await accounts.members(session, auth.actor.org_id),
        "coalitions": await coalitions.my_coalitions(session, auth.actor),
        "audit": (
            await audit.recent_entries(session, org_id=auth.actor.org_id)
            if auth.actor.is_owner
            else []
        ),
        "errors": errors or {},
        "notice": notice or {},
        "values": values or {},
    }
    return render(request, "settings.html", ctx, status_code=status_code)


@router.get("/settings")
async def settings_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _page(request, auth, session)


async def _attempt(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    action: Any,
    values: dict[str, Any] | None = None,
) -> Response:
    """Run a settings change; on a field problem show the page again, keeping what was typed."""
    try:
        notice = await action()
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _page(
            request, auth, session, errors=exc.errors, values=values, status_code=422
        )
    if notice:
        return await _page(request, auth, session, notice=notice)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/password")
async def change_password(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        if data.get("new_password") != data.get("new_password2"):
            raise InvalidInput({"new_password2": N_("The two new passwords differ.")})
        await accounts.change_password(
            session,
            user=auth.user,
            current=data.get("current_password", ""),
            new=data.get("new_password", ""),
            settings=settings,
        )

    response = await _attempt(request, auth, session, action)
    if response.status_code == 303:
        response.headers["Location"] = "/login"
    return response


@router.post("/settings/language")
async def change_language(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await accounts.set_language(session, user=auth.user, language=data.get("language", ""))

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/tokens")
async def create_token(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)
    token = await accounts.create_api_token(session, actor=auth.actor, name=data.get("name", ""))
    # The token is shown once, on this page, and never again.
    return await _page(request, auth, session, notice={"token": token})


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(auth: CurrentAuth, session: SessionDep, token_id: Id) -> Response:
    await accounts.revoke_api_token(session, actor=auth.actor, token_id=token_id)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/organisation")
async def update_org(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await accounts.update_org(
            session,
            actor=auth.actor,
            name=data.get("name", ""),
            language=data.get("default_language", ""),
            pitch_limit=_whole(data.get("pitch_limit")),
        )

    return await _attempt(request, auth, session, action, data)


def _whole(value: str | None) -> int | None:
    """A number field: None when left out, 0 (refused later) when it is not a number."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        return 0


@router.post("/settings/invitations")
async def invite(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    data = await form_dict(request)

    async def action() -> dict[str, str]:
        token = await accounts.create_link(
            session,
            actor=auth.actor,
            kind="invite",
            email=data.get("email", ""),
            role=data.get("role", "editor"),
        )
        return {"link": f"{settings.base_url}/invite/{token}", "link_for": data.get("email", "")}

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/members/{user_id}/reset")
async def reset_link(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    user_id: Id,
) -> Response:
    members = dict((u.id, u) for _, u in await accounts.members(session, auth.actor.org_id))
    user = members.get(user_id)
    if user is None:
        from crm.errors import NotFound

        raise NotFound("member")

    async def action() -> dict[str, str]:
        token = await accounts.create_link(
            session, actor=auth.actor, kind="reset", email=user.email
        )
        return {"link": f"{settings.base_url}/reset/{token}", "link_for": user.email}

    return await _attempt(request, auth, session, action)


@router.post("/settings/members/{user_id}/role")
async def set_role(
    request: Request, auth: CurrentAuth, session: SessionDep, user_id: Id
) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await accounts.set_role(
            session, actor=auth.actor, user_id=user_id, role=data.get("role", "")
        )

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/coalitions")
async def create_coalition(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await coalitions.create_coalition(session, auth.actor, data.get("name", ""))

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/coalitions/{coalition_id}/invite")
async def invite_to_coalition(
    request: Request, auth: CurrentAuth, session: SessionDep, coalition_id: Id
) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await coalitions.invite_org(session, auth.actor, coalition_id, data.get("org_name", ""))

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/coalitions/{coalition_id}/respond")
async def respond_to_coalition(
    request: Request, auth: CurrentAuth, session: SessionDep, coalition_id: Id
) -> Response:
    data = await form_dict(request)

    async def action() -> None:
        await coalitions.respond(
            session, auth.actor, coalition_id, accept=data.get("answer") == "accept"
        )

    return await _attempt(request, auth, session, action, data)


@router.post("/settings/switch")
async def switch(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)
    org_id = optional_int(data.get("org_id"))
    assert auth.token is not None and auth.user.id is not None
    if org_id is None:
        raise InvalidInput({"org_id": N_("Choose an organisation.")})
    await accounts.switch_org(session, auth.token, auth.user.id, org_id)
    return RedirectResponse("/", status_code=303)
