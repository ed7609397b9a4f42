"""Downloads: the current search, a list or one contact, as CSV (for Excel) or vCard (for a
phone or address book). Viewers may export: it only reads.

The file streams from its own database session, opened inside the response: the request's
session is done with once the route has checked the filter and returned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm import exports
from crm.accounts import Actor
from crm.contacts import ContactFilter
from crm.errors import InvalidInput
from crm.i18n import N_
from crm.search import fold
from crm.vcards import VERSIONS, export_vcards
from web.deps import ApiAuth, CurrentAuth, Id, SessionDep
from web.rendering import LOCAL_TZ
from web.routes.api import ApiFilter
from web.routes.contacts import filter_from_query

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["api"])

CSV_TYPE = "text/csv; charset=utf-8"
VCARD_TYPE = "text/vcard; charset=utf-8"
Body = Callable[[AsyncSession], AsyncIterator[str]]


def vcard_version(value: str | None) -> str:
    if not value:
        return "4.0"
    if value not in VERSIONS:
        raise InvalidInput({"version": N_("Choose vCard version 3.0 or 4.0.")})
    return value


def _slug(text: str, default: str) -> str:
    """ASCII only, as a Content-Disposition filename must be: Arbën Këlmendi → arben-kelmendi."""
    return "-".join(fold(text).replace(".", " ").split())[:60] or default


def _filename(stem: str, extension: str) -> str:
    """Dated in Kosovo time: beatbook-contacts-2026-11-26.csv"""
    return f"beatbook-{_slug(stem, 'contacts')}-{datetime.now(LOCAL_TZ):%Y-%m-%d}.{extension}"


def _download(request: Request, body: Body, media_type: str, filename: str) -> Response:
    maker = request.app.state.sessionmaker

    async def stream() -> AsyncIterator[str]:
        async with maker() as session:
            async for piece in body(session):
                yield piece

    return StreamingResponse(
        stream(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _export(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    f: ContactFilter,
    extension: str,
    version: str | None = None,
) -> Response:
    """Check the filter now (another organisation's list is 404), then stream the file."""
    lst = await exports.check_filter(session, actor, f)
    filename = _filename(lst.name if lst else "contacts", extension)
    if extension == "csv":
        return _download(request, lambda s: exports.contacts_csv(s, actor, f), CSV_TYPE, filename)
    v = vcard_version(version)
    return _download(request, lambda s: exports.contacts_vcf(s, actor, f, v), VCARD_TYPE, filename)


# --- pages (session login) ---------------------------------------------------------------------


@router.get("/contacts/export.csv")
async def contacts_csv(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    f = filter_from_query(request.query_params)
    return await _export(request, session, auth.actor, f, "csv")


@router.get("/contacts/export.vcf")
async def contacts_vcf(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    f = filter_from_query(request.query_params)
    version = request.query_params.get("version")
    return await _export(request, session, auth.actor, f, "vcf", version)


@router.get("/lists/{list_id}/export.csv")
async def list_csv(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    return await _export(request, session, auth.actor, ContactFilter(list_id=list_id), "csv")


@router.get("/lists/{list_id}/export.vcf")
async def list_vcf(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    version = request.query_params.get("version")
    f = ContactFilter(list_id=list_id)
    return await _export(request, session, auth.actor, f, "vcf", version)


@router.get("/contacts/{contact_id}/vcard.vcf")
async def contact_vcard(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    card = await exports.contact_card(session, auth.actor, contact_id)
    version = vcard_version(request.query_params.get("version"))
    slug = _slug(f"{card.given_name} {card.family_name}", "contact")
    return Response(
        "".join(export_vcards([card], version)),
        media_type=VCARD_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{slug}.vcf"'},
    )


# --- API (token) -------------------------------------------------------------------------------


Version = Annotated[str, Query(pattern=r"^(3\.0|4\.0)$")]

_CSV_DOC = {200: {"content": {"text/csv": {}}, "description": "The contacts as CSV (UTF-8, BOM)"}}
_VCF_DOC = {200: {"content": {"text/vcard": {}}, "description": "The contacts as vCards"}}


@api.get("/contacts/export.csv", response_class=StreamingResponse, responses=_CSV_DOC)
async def api_contacts_csv(
    request: Request, auth: ApiAuth, session: SessionDep, f: ApiFilter
) -> Response:
    """The contacts that match the filters, as CSV."""
    return await _export(request, session, auth.actor, f, "csv")


@api.get("/contacts/export.vcf", response_class=StreamingResponse, responses=_VCF_DOC)
async def api_contacts_vcf(
    request: Request, auth: ApiAuth, session: SessionDep, f: ApiFilter, version: Version = "4.0"
) -> Response:
    """The contacts that match the filters, as vCard 4.0 (or 3.0 with `version=3.0`)."""
    return await _export(request, session, auth.actor, f, "vcf", version)
