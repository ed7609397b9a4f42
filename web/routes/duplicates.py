"""The duplicate finder: likely duplicate pairs, the side-by-side comparison, and the merge, as
pages and in the API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from crm import duplicates
from crm.contacts import get_contact
from crm.errors import InvalidInput
from crm.i18n import N_
from crm.models.base import DbId, Input
from web.deps import ApiAuth, CurrentAuth, Id, SessionDep, rollback
from web.forms import form_dict, optional_int
from web.rendering import render
from web.routes.api import ContactOut, _contact_out

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["api"])
PAGE = 50


FIELD_LABELS = {
    "given_name": N_("Given name"),
    "family_name": N_("Family name"),
    "salutation": N_("Salutation"),
    "vocative": N_("Vocative (Serbian)"),
    "preferred_language": N_("Preferred language"),
    "city": N_("City"),
    "region": N_("Region"),
    "legal_basis": N_("Legal basis"),
}


@router.get("/duplicates")
async def duplicate_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    page = max(optional_int(request.query_params.get("page")) or 1, 1)
    pairs, total = await duplicates.find_duplicates(
        session, auth.actor, limit=PAGE, offset=(page - 1) * PAGE
    )
    ctx = {
        "pairs": pairs,
        "total": total,
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
        "reasons": duplicates.REASON_TEXT,  # marked where defined
    }
    return render(request, "duplicates/list.html", ctx, block="results")


async def _compare(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    keep_id: int | None,
    other_id: int | None,
    *,
    errors: dict[str, str] | None = None,
    choices: dict[str, str] | None = None,
) -> Response:
    if keep_id is None or other_id is None:
        raise InvalidInput({"keep": N_("Choose two contacts to compare.")})
    preview = await duplicates.merge_preview(session, auth.actor, keep_id, other_id)
    ctx = {
        "p": preview,
        "k": preview.keep.contact,
        "o": preview.other.contact,
        "choices": preview.choices | (choices or {}),
        "fields": FIELD_LABELS,
        "errors": errors or {},
    }
    return render(request, "duplicates/merge.html", ctx, status_code=422 if errors else 200)


@router.get("/duplicates/merge")
async def merge_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    params = request.query_params
    keep, other = optional_int(params.get("keep")), optional_int(params.get("other"))
    return await _compare(request, auth, session, keep, other)


@router.post("/duplicates/merge")
async def merge(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    auth.actor.require_write()
    data = await form_dict(request)
    keep, other = optional_int(data.get("keep")), optional_int(data.get("other"))
    if keep is None or other is None:
        raise InvalidInput({"keep": N_("Choose two contacts to merge.")})
    choices = {
        name: str(data[f"choice_{name}"])
        for name in duplicates.MERGE_FIELDS
        if f"choice_{name}" in data
    }
    try:
        await duplicates.merge_contacts(session, auth.actor, keep, other, choices)
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _compare(
            request, auth, session, keep, other, errors=exc.errors, choices=choices
        )
    return RedirectResponse(f"/contacts/{keep}?merged=1", status_code=303)


# --- API -------------------------------------------------------------------------------------


class SideOut(BaseModel):
    id: int
    name: str
    outlets: list[str]
    emails: list[str]


class DuplicateOut(BaseModel):
    a_id: int
    b_id: int
    score: int
    reasons: list[str]
    a: SideOut
    b: SideOut


class DuplicatePage(BaseModel):
    items: list[DuplicateOut]
    total: int


Choice = Literal["keep", "other"]
MergeField = Literal[
    "given_name", "family_name", "salutation", "vocative", "preferred_language", "city",
    "region", "legal_basis",
]  # fmt: skip


class MergeIn(Input):
    """Merge `other_id` into the contact of the path; `choices` picks single-valued fields."""

    other_id: DbId
    choices: dict[MergeField, Choice] = Field(default_factory=dict)


async def _merge_target(auth: ApiAuth, session: SessionDep, contact_id: Id) -> int:
    """The contact merged into. As a dependency it is checked before the body is: another
    organisation's contact answers 404 whatever was sent."""
    await get_contact(session, auth.actor, contact_id)
    return contact_id


def _side_out(side: duplicates.Side | None) -> SideOut:
    assert side is not None
    return SideOut(id=side.id, name=side.name, outlets=side.outlets, emails=side.emails)


@api.get("/duplicates")
async def list_duplicates(
    auth: ApiAuth,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DuplicatePage:
    pairs, total = await duplicates.find_duplicates(session, auth.actor, limit=limit, offset=offset)
    items = [
        DuplicateOut(
            a_id=p.a_id,
            b_id=p.b_id,
            score=p.score,
            reasons=[str(r) for r in p.reasons],
            a=_side_out(p.a),
            b=_side_out(p.b),
        )
        for p in pairs
    ]
    return DuplicatePage(items=items, total=total)


@api.post("/contacts/{contact_id}/merge")
async def merge_contact(
    auth: ApiAuth,
    session: SessionDep,
    keep_id: Annotated[int, Depends(_merge_target)],
    data: MergeIn,
) -> ContactOut:
    """Merge another contact into this one; returns the merged contact."""
    choices: dict[str, str] = dict(data.choices)
    await duplicates.merge_contacts(session, auth.actor, keep_id, data.other_id, choices)
    return await _contact_out(session, auth, keep_id)
