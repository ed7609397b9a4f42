"""Lists and smart lists: build from a search, add and remove members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import coalitions, lists
from crm import contacts as crm_contacts
from crm.errors import InvalidInput
from crm.i18n import N_
from crm.lists import ListIn
from web.deps import CurrentAuth, Id, SessionDep, rollback
from web.forms import field_errors, form_dict, optional_int
from web.rendering import render
from web.routes.contacts import filter_from_query

router = APIRouter(include_in_schema=False)
PAGE = 50


async def _index(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    errors: dict[str, str],
    values: dict[str, Any] | None = None,
) -> Response:
    rows = await lists.all_lists(session, auth.actor)
    return render(
        request,
        "lists/index.html",
        {"rows": rows, "errors": errors, "values": values or {}},
        status_code=422 if errors else 200,
    )


@router.get("/lists")
async def list_index(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _index(request, auth, session, {})


@router.post("/lists")
async def create_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    """A new list: empty and static, or smart from the search it was saved from."""
    data = await form_dict(request)
    kind = "smart" if data.get("kind") == "smart" else "static"
    f = filter_from_query(data)
    from_search = kind == "static" and data.get("from_search") == "1"
    # Resolve the search before creating anything, so a bad search leaves no empty list.
    members = await crm_contacts.matching_ids(session, auth.actor, f) if from_search else []
    try:
        lst = await lists.create_list(
            session,
            auth.actor,
            ListIn(
                name=data.get("name", ""),
                description=data.get("description", ""),
                kind=kind,
                filter=f.as_dict() if kind == "smart" else {},
            ),
        )
        if members:
            await lists.add_members(session, auth.actor, lst.id or 0, members)
    except ValidationError as exc:
        return await _index(request, auth, session, field_errors(exc), data)
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _index(request, auth, session, exc.errors, data)
    return RedirectResponse(f"/lists/{lst.id}", status_code=303)


@router.post("/lists/add-results")
async def add_results(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    """Add every contact the current search matches to a chosen static list."""
    data = await form_dict(request)
    list_id = optional_int(data.get("list_id"))
    if list_id is None:
        raise InvalidInput({"list_id": N_("Choose a list.")})
    await lists.add_search_results(session, auth.actor, list_id, filter_from_query(data))
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.get("/lists/{list_id}")
async def list_page(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    return await _list_page(request, auth, session, list_id)


async def _list_page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    list_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    lst = await lists.get_list(session, auth.actor, list_id)
    page = max(optional_int(request.query_params.get("page")) or 1, 1)
    f = crm_contacts.ContactFilter(list_id=list_id)
    rows, total = await crm_contacts.search_contacts(
        session, auth.actor, f, limit=PAGE, offset=(page - 1) * PAGE
    )
    ctx = {
        "lst": lst,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
        "errors": errors or {},
        "values": values or {"name": lst.name, "description": lst.description},
        "search_query": _query_of(lst.filter),
        "coalitions": [
            v
            for v in await coalitions.my_coalitions(session, auth.actor)
            if v.my_status == "accepted"
        ],
        "shared_with": await lists.shares_of(session, list_id),
    }
    status = 422 if errors else 200
    return render(request, "lists/detail.html", ctx, block="members", status_code=status)


def _query_of(saved: dict[str, object]) -> dict[str, object]:
    """A smart list's filter as the contacts page's query string."""
    names = {"beat_id": "beat", "outlet_id": "outlet", "do_not_contact": "dnc"}
    query = {names.get(k, k): v for k, v in saved.items()}
    if "dnc" in query:
        query["dnc"] = "yes" if query["dnc"] else "no"
    return query


@router.post("/lists/{list_id}")
async def update_list(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    lst = await lists.get_list(session, auth.actor, list_id)
    data = await form_dict(request)
    try:
        await lists.update_list(
            session,
            auth.actor,
            list_id,
            ListIn(
                name=data.get("name", ""),
                description=data.get("description", ""),
                kind=lst.kind,
                filter=lst.filter,
            ),
        )
    except ValidationError as exc:
        return await _list_page(request, auth, session, list_id, field_errors(exc), data)
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id}/delete")
async def delete_list(auth: CurrentAuth, session: SessionDep, list_id: Id) -> Response:
    await lists.delete_list(session, auth.actor, list_id)
    return RedirectResponse("/lists", status_code=303)


@router.post("/lists/{list_id}/members")
async def add_members(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    """Add the current search's results (or chosen contacts) to a static list."""
    data = await form_dict(request)
    ids = data.get("contact_ids", [])
    if ids:
        await lists.add_members(
            session, auth.actor, list_id, [i for i in map(optional_int, ids) if i]
        )
    else:
        await lists.add_search_results(session, auth.actor, list_id, filter_from_query(data))
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id}/members/{contact_id}/delete")
async def remove_member(
    auth: CurrentAuth, session: SessionDep, list_id: Id, contact_id: Id
) -> Response:
    await lists.remove_member(session, auth.actor, list_id, contact_id)
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id}/share")
async def share_list(
    request: Request, auth: CurrentAuth, session: SessionDep, list_id: Id
) -> Response:
    """Share the list with a coalition (partners see its name and size, never its members)."""
    await lists.get_list(session, auth.actor, list_id)  # another's: not found
    data = await form_dict(request)
    coalition_id = optional_int(data.get("coalition_id"))
    if coalition_id is None:
        raise InvalidInput({"coalition_id": N_("Choose a coalition.")})
    shared = data.get("shared") == "1"
    await lists.share_list(session, auth.actor, list_id, coalition_id, shared=shared)
    return RedirectResponse(f"/lists/{list_id}", status_code=303)
