"""Sender identities: the addresses an organisation sends campaigns from (owners only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import coalitions
from crm.errors import InvalidInput
from crm.models import SenderIdentity
from outreach import senders
from outreach.senders import SenderIn
from web.deps import CurrentAuth, Id, SessionDep, SettingsDep, rollback
from web.forms import field_errors, form_dict, optional_int
from web.rendering import render

router = APIRouter(include_in_schema=False)


def _values(sender: SenderIdentity) -> dict[str, Any]:
    return {
        "from_name": sender.from_name, "from_address": sender.from_address,
        "smtp_host": sender.smtp_host, "smtp_port": sender.smtp_port,
        "smtp_tls": sender.smtp_tls, "smtp_username": sender.smtp_username,
        "per_minute": sender.per_minute or "", "per_day": sender.per_day or "",
        "dkim_selector": sender.dkim_selector, "coalition_id": str(sender.coalition_id or ""),
    }  # fmt: skip


async def _page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    *,
    editing: SenderIdentity | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    auth.actor.require_owner()
    ctx = {
        "senders": await senders.list_senders(session, auth.actor),
        "editing": editing,
        "values": values if values is not None else (_values(editing) if editing else {}),
        "errors": errors or {},
        "coalitions": [
            v
            for v in await coalitions.my_coalitions(session, auth.actor)
            if v.my_status == "accepted"
        ],
    }
    return render(request, "senders/index.html", ctx, status_code=422 if errors else 200)


def _input(data: dict[str, Any]) -> SenderIn:
    raw = {k: v for k, v in data.items() if k in SenderIn.model_fields}
    for key in ("per_minute", "per_day"):
        raw[key] = optional_int(raw.get(key)) if raw.get(key) not in (None, "") else None
    raw["smtp_port"] = raw.get("smtp_port") or 587
    raw["coalition_id"] = optional_int(raw.get("coalition_id"))
    return SenderIn.model_validate(raw)


@router.get("/settings/senders")
async def sender_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _page(request, auth, session)


@router.get("/settings/senders/{sender_id}")
async def sender_edit(
    request: Request, auth: CurrentAuth, session: SessionDep, sender_id: Id
) -> Response:
    auth.actor.require_owner()
    sender = await senders.get_sender(session, auth.actor, sender_id)
    return await _page(request, auth, session, editing=sender)


async def _save(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    sender_id: int | None,
) -> Response:
    data = await form_dict(request)
    editing = await senders.get_sender(session, auth.actor, sender_id) if sender_id else None
    try:
        if sender_id is None:
            await senders.create_sender(session, auth.actor, settings, _input(data))
        else:
            await senders.update_sender(session, auth.actor, settings, sender_id, _input(data))
    except ValidationError as exc:
        return await _page(
            request, auth, session, editing=editing, values=data, errors=field_errors(exc)
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _page(request, auth, session, editing=editing, values=data, errors=exc.errors)
    return RedirectResponse("/settings/senders", status_code=303)


@router.post("/settings/senders")
async def sender_create(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    return await _save(request, auth, session, settings, None)


@router.post("/settings/senders/{sender_id}")
async def sender_update(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, sender_id: Id
) -> Response:
    return await _save(request, auth, session, settings, sender_id)
