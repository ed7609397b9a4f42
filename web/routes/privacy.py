"""A journalist's data rights: export and erase a contact, and the requests journalists make
(a public form, an email confirmation, and the owners' page where requests are fulfilled)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import contacts as crm_contacts
from crm import i18n, privacy
from crm.errors import InvalidInput, NotFound
from crm.i18n import gettext as _
from crm.privacy import DataRequestIn, RequestThrottled
from outreach.privacy_mail import request_url
from web.deps import ApiAuth, CurrentAuth, Id, SessionDep, SettingsDep, public_context, rollback
from web.forms import field_errors, form_dict
from web.rendering import render

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["api"])


def _json_download(data: dict[str, Any], filename: str) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the contact page's actions ------------------------------------------------------------


@router.get("/contacts/{contact_id}/data.json")
async def contact_data(auth: CurrentAuth, session: SessionDep, contact_id: Id) -> Response:
    data = await privacy.export_contact_data(session, auth.actor, contact_id)
    return _json_download(data, f"beatbook-contact-{contact_id}.json")


@router.get("/contacts/{contact_id}/erase")
async def erase_page(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    """The confirmation step: it names the contact, so nobody erases the wrong person."""
    auth.actor.require_write()
    detail = await crm_contacts.contact_detail(session, auth.actor, contact_id)
    return render(request, "privacy/erase.html", {"c": detail.contact, "d": detail})


@router.post("/contacts/{contact_id}/erase")
async def erase_contact(
    auth: CurrentAuth, session: SessionDep, settings: SettingsDep, contact_id: Id
) -> Response:
    await privacy.erase_contact(session, auth.actor, settings, contact_id)
    return RedirectResponse("/contacts", status_code=303)


# --- the journalist's side (no login) ------------------------------------------------------


def _request_errors(exc: ValidationError) -> dict[str, str]:
    errors = field_errors(exc)
    if "email" in errors:
        errors["email"] = _("Enter your email address, like name@example.org.")
    if "kind" in errors:
        errors["kind"] = _("Choose what you would like us to do.")
    return errors


def _link_gone(request: Request) -> Response:
    ctx = {"req": None, "days": privacy.REQUEST_DAYS}
    return render(request, "privacy/confirm.html", ctx, status_code=404)


# Registered before /privacy/{org}/request so that "confirm" is never read as an organisation.
@router.get("/privacy/confirm/{token}")
async def confirm_page(request: Request, session: SessionDep, token: str) -> Response:
    public_context(request)
    try:
        req = await privacy.open_request(session, token)
    except NotFound:
        return _link_gone(request)
    public_context(request, req.language)
    org = await privacy.public_org(session, req.org_id)
    return render(request, "privacy/confirm.html", {"req": req, "org": org, "token": token})


@router.post("/privacy/confirm/{token}")
async def confirm(request: Request, session: SessionDep, token: str) -> Response:
    public_context(request)
    try:
        await privacy.confirm_request(session, token)
    except NotFound:
        return _link_gone(request)
    lang = request.query_params.get("lang", "")
    query = f"?lang={lang}" if lang in i18n.PAGE_LANGUAGES else ""
    return RedirectResponse(f"/privacy/confirm/{token}{query}", status_code=303)


@router.get("/privacy/requests")
async def requests_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _requests(request, auth, session, {})


@router.get("/privacy/{org}/request")
async def request_form(request: Request, session: SessionDep, org: Id) -> Response:
    public_context(request)
    organisation = await privacy.public_org(session, org)
    ctx = {"org": organisation, "values": {}, "errors": {}}
    return render(request, "privacy/request.html", ctx)


@router.post("/privacy/{org}/request")
async def make_request(request: Request, session: SessionDep, org: Id) -> Response:
    """Always the same answer for a valid address, known or not: no enumeration."""
    public_context(request)
    organisation = await privacy.public_org(session, org)
    values = await form_dict(request)
    try:
        data = DataRequestIn.model_validate(
            {k: values.get(k, "") for k in ("email", "kind", "message")}
        )
        await privacy.create_request(session, org, data, language=i18n.current())
    except ValidationError as exc:
        ctx = {"org": organisation, "values": values, "errors": _request_errors(exc)}
        return render(request, "privacy/request.html", ctx, status_code=422)
    except RequestThrottled:
        ctx = {"org": organisation, "throttled": True, "days": privacy.REQUEST_DAYS}
        return render(request, "privacy/sent.html", ctx, status_code=429)
    ctx = {"org": organisation, "throttled": False, "days": privacy.REQUEST_DAYS}
    return render(request, "privacy/sent.html", ctx)


# --- the owners' side ----------------------------------------------------------------------


async def _requests(
    request: Request, auth: CurrentAuth, session: SessionDep, errors: dict[int, dict[str, str]]
) -> Response:
    views = await privacy.list_requests(session, auth.actor)
    settings = request.app.state.settings
    ctx = {"views": views, "errors": errors, "public_url": request_url(settings, auth.org.id or 0)}
    return render(request, "privacy/requests.html", ctx, status_code=422 if errors else 200)


@router.get("/privacy/requests/{request_id}/data.json")
async def request_data(auth: CurrentAuth, session: SessionDep, request_id: Id) -> Response:
    req = await privacy.get_request(session, auth.actor, request_id)
    if req.status != "confirmed" or req.kind != "copy":
        raise InvalidInput({"request": _("Only a confirmed request for a copy has a copy.")})
    data = await privacy.request_copy(session, auth.actor, req)
    return _json_download(data, f"beatbook-data-request-{request_id}.json")


@router.post("/privacy/requests/{request_id}/fulfil")
async def fulfil(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    request_id: Id,
) -> Response:
    await privacy.get_request(session, auth.actor, request_id)
    values = await form_dict(request)
    try:
        await privacy.fulfil_request(
            session, auth.actor, settings, request_id, method=str(values.get("method", ""))
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _requests(request, auth, session, {request_id: exc.errors})
    return RedirectResponse("/privacy/requests", status_code=303)


@router.post("/privacy/requests/{request_id}/decline")
async def decline(
    request: Request, auth: CurrentAuth, session: SessionDep, request_id: Id
) -> Response:
    await privacy.get_request(session, auth.actor, request_id)
    values = await form_dict(request)
    try:
        await privacy.decline_request(
            session, auth.actor, request_id, str(values.get("reason", ""))
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _requests(request, auth, session, {request_id: exc.errors})
    return RedirectResponse("/privacy/requests", status_code=303)


# --- API ------------------------------------------------------------------------------------


@api.get("/contacts/{contact_id}/data")
async def api_contact_data(auth: ApiAuth, session: SessionDep, contact_id: Id) -> dict[str, Any]:
    """Everything the organisation holds about the contact (profile, legal basis, timeline,
    import reports, audit entries)."""
    return await privacy.export_contact_data(session, auth.actor, contact_id)


@api.post("/contacts/{contact_id}/erase", status_code=204)
async def api_erase_contact(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, contact_id: Id
) -> Response:
    """Erase the contact's personal data everywhere; its addresses stay suppressed."""
    await privacy.erase_contact(session, auth.actor, settings, contact_id)
    return Response(status_code=204)
