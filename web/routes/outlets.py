"""Outlet pages and beat management."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import beats, outlets
from crm.beats import BeatIn
from crm.errors import InvalidInput
from crm.outlets import OutletIn
from web.deps import CurrentAuth, Id, SessionDep, rollback
from web.forms import field_errors, form_dict, optional_int
from web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/outlets")
async def outlet_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    q = (request.query_params.get("q") or "")[:200]
    medium = (request.query_params.get("medium") or "")[:16]
    page = max(optional_int(request.query_params.get("page")) or 1, 1)
    rows, total = await outlets.search_outlets(
        session, auth.actor, q=q, medium=medium, limit=PAGE, offset=(page - 1) * PAGE
    )
    ctx = {
        "rows": rows,
        "total": total,
        "q": q,
        "medium": medium,
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
    }
    return render(request, "outlets/list.html", ctx, block="results")


def outlet_input(data: dict[str, Any]) -> dict[str, Any]:
    languages = data.get("languages", [])
    return {
        "name": data.get("name", ""),
        "medium": data.get("medium", ""),
        "languages": languages if isinstance(languages, list) else [languages],
        "region": data.get("region", ""),
        "website": data.get("website", ""),
        "desk_email": (data.get("desk_email") or "").strip(),
        "reach": data.get("reach") or None,
    }


def _form(
    request: Request, values: dict[str, Any], errors: dict[str, str], outlet_id: int | None
) -> Response:
    return render(
        request,
        "outlets/form.html",
        {"values": values, "errors": errors, "outlet_id": outlet_id},
        block="form",
        status_code=422 if errors else 200,
    )


@router.get("/outlets/new")
async def new_outlet(request: Request, auth: CurrentAuth) -> Response:
    auth.actor.require_write()
    return _form(request, outlet_input({}), {}, None)


async def _save(
    request: Request, auth: CurrentAuth, session: SessionDep, outlet_id: int | None
) -> Response:
    auth.actor.require_write()
    values = outlet_input(await form_dict(request))
    try:
        data = OutletIn.model_validate(values)
        if outlet_id is None:
            outlet = await outlets.create_outlet(session, auth.actor, data)
        else:
            outlet = await outlets.update_outlet(session, auth.actor, outlet_id, data)
    except ValidationError as exc:
        return _form(request, values, field_errors(exc), outlet_id)
    except InvalidInput as exc:
        await rollback(session, auth)
        return _form(request, values, exc.errors, outlet_id)
    return RedirectResponse(f"/outlets/{outlet.id}", status_code=303)


@router.post("/outlets")
async def create_outlet(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _save(request, auth, session, None)


@router.get("/outlets/{outlet_id}")
async def outlet_page(
    request: Request, auth: CurrentAuth, session: SessionDep, outlet_id: Id
) -> Response:
    outlet = await outlets.get_outlet(session, auth.actor, outlet_id)
    people = await outlets.journalists(session, auth.actor, outlet_id)
    return render(request, "outlets/detail.html", {"outlet": outlet, "people": people})


@router.get("/outlets/{outlet_id}/edit")
async def edit_outlet(
    request: Request, auth: CurrentAuth, session: SessionDep, outlet_id: Id
) -> Response:
    auth.actor.require_write()
    outlet = await outlets.get_outlet(session, auth.actor, outlet_id)
    values = outlet.model_dump()
    return _form(request, values, {}, outlet_id)


@router.post("/outlets/{outlet_id}")
async def update_outlet(
    request: Request, auth: CurrentAuth, session: SessionDep, outlet_id: Id
) -> Response:
    await outlets.get_outlet(session, auth.actor, outlet_id)
    return await _save(request, auth, session, outlet_id)


@router.post("/outlets/{outlet_id}/delete")
async def delete_outlet(auth: CurrentAuth, session: SessionDep, outlet_id: Id) -> Response:
    await outlets.delete_outlet(session, auth.actor, outlet_id)
    return RedirectResponse("/outlets", status_code=303)


# --- beats -----------------------------------------------------------------------------------


async def _beats_page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    errors: dict[str, str],
    name: str = "",
) -> Response:
    rows = await beats.list_beats(session, auth.actor)
    return render(
        request,
        "beats.html",
        {"rows": rows, "errors": errors, "name": name},
        block="beats",
        status_code=422 if errors else 200,
    )


@router.get("/beats")
async def beat_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _beats_page(request, auth, session, {})


@router.post("/beats")
async def create_beat(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)
    try:
        await beats.create_beat(session, auth.actor, BeatIn(name=data.get("name", "")))
    except ValidationError as exc:
        return await _beats_page(request, auth, session, field_errors(exc), data.get("name", ""))
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _beats_page(request, auth, session, exc.errors, data.get("name", ""))
    return RedirectResponse("/beats", status_code=303)


@router.post("/beats/{beat_id}")
async def rename_beat(
    request: Request, auth: CurrentAuth, session: SessionDep, beat_id: Id
) -> Response:
    data = await form_dict(request)
    try:
        await beats.rename_beat(session, auth.actor, beat_id, BeatIn(name=data.get("name", "")))
    except ValidationError as exc:
        return await _beats_page(request, auth, session, field_errors(exc))
    return RedirectResponse("/beats", status_code=303)


@router.post("/beats/{beat_id}/delete")
async def delete_beat(auth: CurrentAuth, session: SessionDep, beat_id: Id) -> Response:
    await beats.delete_beat(session, auth.actor, beat_id)
    return RedirectResponse("/beats", status_code=303)
