"""Contact pages: the searchable list, the profile with its timeline, create and edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import contacts as crm_contacts
from crm import interactions, lists
from crm.beats import all_beats
from crm.contacts import ContactFilter, ContactIn
from crm.errors import InvalidInput
from crm.health import followups
from crm.health import store as health_store
from crm.i18n import N_
from crm.interactions import InteractionIn
from crm.outlets import all_outlets
from web.deps import CurrentAuth, Id, SessionDep, rollback
from web.forms import field_errors, form_dict, lines, optional_int
from web.rendering import LOCAL_TZ, is_htmx, render

router = APIRouter(include_in_schema=False)
PAGE = 50
SOCIAL = ("x", "linkedin", "facebook", "instagram", "mastodon")


def local_datetime(value: str | None) -> datetime | str | None:
    """A `datetime-local` field means Kosovo time; anything unparseable is left to validation."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


def filter_from_query(params: Any) -> ContactFilter:
    dnc = params.get("dnc", "")
    return ContactFilter(
        q=(params.get("q") or "")[:200],
        beat_id=optional_int(params.get("beat")),
        outlet_id=optional_int(params.get("outlet")),
        medium=(params.get("medium") or "")[:16],
        language=(params.get("language") or "")[:8],
        region=(params.get("region") or "")[:100],
        tag=(params.get("tag") or "")[:60],
        do_not_contact={"yes": True, "no": False}.get(dnc),
        list_id=optional_int(params.get("list")),
        sort=params.get("sort") or "name",
    )


async def _choices(session: SessionDep, auth: CurrentAuth) -> dict[str, Any]:
    return {
        "beats": await all_beats(session, auth.actor),
        "outlets": await all_outlets(session, auth.actor),
    }


@router.get("/contacts")
async def contact_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    f = filter_from_query(request.query_params)
    page = max(optional_int(request.query_params.get("page")) or 1, 1)
    rows, total = await crm_contacts.search_contacts(
        session, auth.actor, f, limit=PAGE, offset=(page - 1) * PAGE
    )
    ctx: dict[str, Any] = {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
        "f": f,
        "query": {k: v for k, v in request.query_params.items() if k != "page" and v},
    }
    ctx |= await crm_contacts.filter_menus(session, auth.actor, facets=not is_htmx(request))
    return render(request, "contacts/list.html", ctx, block="results")


def contact_input(data: dict[str, Any]) -> dict[str, Any]:
    """Form fields → the shape of ContactIn."""
    roles = []
    for i in range(20):
        outlet = data.get(f"roles-{i}-outlet_id")
        if outlet is None:
            continue
        details = [data.get(f"roles-{i}-{k}") for k in ("title", "started_on", "ended_on")]
        if not outlet and any(details):
            # A title or dates without an outlet: say so rather than drop what was typed.
            outlet = "missing"
        if not outlet:
            continue
        roles.append(
            {
                "outlet_id": outlet,
                "title": data.get(f"roles-{i}-title", ""),
                "started_on": data.get(f"roles-{i}-started_on") or None,
                "ended_on": data.get(f"roles-{i}-ended_on") or None,
            }
        )
    languages = data.get("languages", [])
    beats = data.get("beat_ids", [])
    return {
        "given_name": data.get("given_name", ""),
        "family_name": data.get("family_name", ""),
        "emails": lines(data.get("emails")),
        "phones": [p for p in (data.get("phones") or "").splitlines() if p.strip()],
        "social": {k: data[f"social_{k}"].strip() for k in SOCIAL if data.get(f"social_{k}")},
        "salutation": data.get("salutation", "neutral"),
        "vocative": data.get("vocative", ""),
        "preferred_language": data.get("preferred_language", "sq"),
        "languages": languages if isinstance(languages, list) else [languages],
        "city": data.get("city", ""),
        "region": data.get("region", ""),
        "notes": data.get("notes", ""),
        "beat_ids": [b for b in (beats if isinstance(beats, list) else [beats]) if b],
        "tags": lines(data.get("tags")),
        "roles": roles,
        "legal_basis": data.get("legal_basis", "legitimate_interest"),
        "legal_source": data.get("legal_source", ""),
        "do_not_contact": data.get("do_not_contact") == "on",
        "do_not_contact_reason": data.get("do_not_contact_reason", ""),
    }


async def _form(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    contact_id: int | None,
    links: dict[str, str] | None = None,
) -> Response:
    ctx = {
        "values": values,
        "errors": errors,
        "links": links or {},
        "contact_id": contact_id,
        "social_keys": SOCIAL,
    } | await _choices(session, auth)
    return render(
        request, "contacts/form.html", ctx, block="form", status_code=422 if errors else 200
    )


@router.get("/contacts/new")
async def new_contact(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    auth.actor.require_write()
    values = contact_input({})
    values["roles"] = []
    return await _form(request, auth, session, values=values, errors={}, contact_id=None)


async def _save(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: int | None
) -> Response:
    auth.actor.require_write()
    values = contact_input(await form_dict(request))
    try:
        data = ContactIn.model_validate(values)
        if contact_id is None:
            contact = await crm_contacts.create_contact(session, auth.actor, data)
        else:
            contact = await crm_contacts.update_contact(session, auth.actor, contact_id, data)
    except ValidationError as exc:
        await rollback(session, auth)
        errors = field_errors(exc)
        return await _form(
            request, auth, session, values=values, errors=errors, contact_id=contact_id
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _form(
            request,
            auth,
            session,
            values=values,
            errors=exc.errors,
            contact_id=contact_id,
            links=exc.links,
        )
    target = f"/contacts/{contact.id}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/contacts")
async def create_contact(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _save(request, auth, session, None)


@router.get("/contacts/{contact_id}")
async def contact_page(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    ctx = await contact_context(session, auth, contact_id)
    return render(request, "contacts/detail.html", ctx)


async def contact_context(
    session: SessionDep, auth: CurrentAuth, contact_id: int
) -> dict[str, Any]:
    """What a contact's page shows: the profile, its health and follow-ups, the timeline."""
    detail = await crm_contacts.contact_detail(session, auth.actor, contact_id)
    timeline = await interactions.timeline(session, auth.actor, contact_id)
    static_lists = [
        lst for lst, _ in await lists.all_lists(session, auth.actor) if lst.kind == "static"
    ]
    now = datetime.now(UTC)
    due, _ = await followups.open_follow_ups(session, auth.actor, contact_id=contact_id)
    return {
        "d": detail,
        "c": detail.contact,
        "timeline": timeline,
        "static_lists": static_lists,
        "errors": {},
        "kinds": interactions.MANUAL_KINDS,
        "health": await health_store.health_of(session, auth.actor, contact_id, now),
        "follow_ups": due,
        "today": health_store.today(now),
        "snooze_days": followups.SNOOZE_DAYS,
        "follow_up_values": {},
        "follow_up_errors": {},
    }


@router.get("/contacts/{contact_id}/edit")
async def edit_contact(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    auth.actor.require_write()
    detail = await crm_contacts.contact_detail(session, auth.actor, contact_id)
    values = crm_contacts.detail_as_input(detail).model_dump(mode="json")
    return await _form(request, auth, session, values=values, errors={}, contact_id=contact_id)


@router.post("/contacts/{contact_id}")
async def update_contact(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    await crm_contacts.get_contact(session, auth.actor, contact_id)
    return await _save(request, auth, session, contact_id)


@router.post("/contacts/{contact_id}/delete")
async def delete_contact(auth: CurrentAuth, session: SessionDep, contact_id: Id) -> Response:
    await crm_contacts.delete_contact(session, auth.actor, contact_id)
    return RedirectResponse("/contacts", status_code=303)


def _direction(data: dict[str, Any]) -> str:
    """Who started a call or meeting, as the officer says (we, by default); an email's
    direction is its kind's."""
    kind = data.get("kind", "")
    if kind in ("email_in", "email_out"):
        return "in" if kind == "email_in" else "out"
    if kind in ("call", "meeting"):
        return "in" if data.get("direction") == "in" else "out"
    return "none"


@router.post("/contacts/{contact_id}/interactions")
async def log_interaction(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    auth.actor.require_write()
    data = await form_dict(request)
    errors: dict[str, str] = {}
    try:
        item = InteractionIn.model_validate(
            {
                "kind": data.get("kind", "note"),
                "summary": data.get("summary", ""),
                "body": data.get("body", ""),
                "occurred_at": local_datetime(data.get("occurred_at")),
                "direction": _direction(data),
            }
        )
        await interactions.log_interaction(session, auth.actor, contact_id, item)
    except ValidationError as exc:
        errors = field_errors(exc)
    if not is_htmx(request) and not errors:
        return RedirectResponse(f"/contacts/{contact_id}", status_code=303)
    ctx = await contact_context(session, auth, contact_id)
    ctx |= {"errors": errors, "values": data if errors else {}}
    return render(
        request,
        "contacts/detail.html",
        ctx,
        block="timeline",
        status_code=422 if errors else 200,
    )


@router.post("/contacts/{contact_id}/interactions/{interaction_id}/delete")
async def delete_interaction(
    auth: CurrentAuth, session: SessionDep, contact_id: Id, interaction_id: Id
) -> Response:
    item = await interactions.get_interaction(session, auth.actor, interaction_id)
    if item.contact_id != contact_id:
        from crm.errors import NotFound

        raise NotFound("interaction")
    await interactions.delete_interaction(session, auth.actor, interaction_id)
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.post("/contacts/{contact_id}/lists")
async def add_to_list(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    data = await form_dict(request)
    await crm_contacts.get_contact(session, auth.actor, contact_id)
    list_id = optional_int(data.get("list_id"))
    if list_id is None:
        raise InvalidInput({"list_id": N_("Choose a list.")})
    await lists.add_members(session, auth.actor, list_id, [contact_id])
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)
