"""Relationship health: the dashboard, follow-ups (due, overdue, done, snoozed), and the API
for both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import beats, lists, outlets
from crm.errors import InvalidInput, NotFound
from crm.health import dashboard, followups, store
from crm.health.followups import FollowUpIn
from crm.health.score import PERIODS
from web.deps import ApiAuth, CurrentAuth, Id, SessionDep
from web.forms import field_errors, form_dict, optional_int
from web.rendering import is_htmx, render
from web.routes.api import IdQuery, Limit
from web.routes.contacts import contact_context

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["health"])


def _today() -> date:
    return store.today(datetime.now(UTC))


def _filters(query: Any) -> dashboard.Filters:
    return dashboard.Filters(
        beat_id=optional_int(query.get("beat")),
        outlet_id=optional_int(query.get("outlet")),
        list_id=optional_int(query.get("list")),
        period=optional_int(query.get("period")) or 90,
    )


@router.get("/health")
async def health_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    f = _filters(request.query_params)
    today = _today()
    board = await dashboard.dashboard(session, auth.actor, f, today)
    ctx = {
        "board": board,
        "today": today,
        "snooze_days": followups.SNOOZE_DAYS,
        "f": f,
        "periods": PERIODS,
        "beats": await beats.all_beats(session, auth.actor),
        "outlets": await outlets.all_outlets(session, auth.actor),
        "lists": await lists.list_choices(session, auth.actor),
    }
    return render(
        request, "health/dashboard.html", ctx, block="board" if is_htmx(request) else None
    )


# --- follow-ups -----------------------------------------------------------------------------


@router.get("/follow-ups")
async def follow_up_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    rows, total = await followups.open_follow_ups(session, auth.actor, limit=500)
    today = _today()
    ctx = {
        "overdue": [r for r in rows if r.item.due_on < today],
        "due": [r for r in rows if r.item.due_on == today],
        "later": [r for r in rows if r.item.due_on > today],
        "total": total,
        "today": today,
        "snooze_days": followups.SNOOZE_DAYS,
    }
    return render(request, "health/follow_ups.html", ctx)


def _back(request: Request, fallback: str) -> str:
    """Where a follow-up form came from (a contact's page or the list), on this site only."""
    back = str(request.query_params.get("back") or "")
    return back if back.startswith("/") and not back.startswith("//") else fallback


@router.post("/contacts/{contact_id}/follow-ups")
async def add_follow_up(
    request: Request, auth: CurrentAuth, session: SessionDep, contact_id: Id
) -> Response:
    values = await form_dict(request)
    try:
        data = FollowUpIn.model_validate(
            {"contact_id": contact_id, "title": values.get("title", ""),
             "due_on": values.get("due_on") or None}
        )  # fmt: skip
        await followups.create_follow_up(session, auth.actor, data)
    except ValidationError as exc:
        return await _contact_with_errors(
            request, auth, session, contact_id, values, field_errors(exc)
        )
    except InvalidInput as exc:
        return await _contact_with_errors(request, auth, session, contact_id, values, exc.errors)
    return RedirectResponse(f"/contacts/{contact_id}#follow-ups", status_code=303)


async def _contact_with_errors(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    contact_id: int,
    values: dict[str, Any],
    errors: dict[str, Any],
) -> Response:
    ctx = await contact_context(session, auth, contact_id)
    ctx |= {"follow_up_values": values, "follow_up_errors": errors}
    return render(request, "contacts/detail.html", ctx, status_code=422)


ACTIONS = ("done", "dismiss", "reopen", "snooze")


async def _settle(session: SessionDep, auth: Any, follow_up_id: int, action: str, days: int) -> Any:
    """Done, not needed (dismiss), open again, or snoozed for `days`; another path is a 404."""
    if action not in ACTIONS:
        raise NotFound("page")
    if action == "snooze":
        return await followups.snooze(session, auth.actor, follow_up_id, days, _today())
    return await followups.settle(session, auth.actor, follow_up_id, action)  # type: ignore[arg-type]


@router.post("/follow-ups/{follow_up_id}/{action}")
async def settle_follow_up(
    request: Request, auth: CurrentAuth, session: SessionDep, follow_up_id: Id, action: str
) -> Response:
    days = optional_int((await form_dict(request)).get("days")) or 0 if action == "snooze" else 0
    item = await _settle(session, auth, follow_up_id, action, days)
    back = _back(request, f"/contacts/{item.contact_id}#follow-ups")
    return RedirectResponse(back, status_code=303)


# --- /api/v1 --------------------------------------------------------------------------------


@api.get("/contacts/{contact_id}/health")
async def api_contact_health(auth: ApiAuth, session: SessionDep, contact_id: Id) -> dict[str, Any]:
    """The contact's score today, its state, and what it rests on."""
    health = await store.health_of(session, auth.actor, contact_id, datetime.now(UTC))
    return {
        "score": health.score,
        "state": health.state,
        "last_two_way_at": health.last_two_way.isoformat() if health.last_two_way else None,
        "reasons": [r.__dict__ | {"names": list(r.names)} for r in health.reasons],
    }


def _follow_up_out(item: Any) -> dict[str, Any]:
    return {
        "id": item.id, "contact_id": item.contact_id, "title": item.title,
        "due_on": item.due_on.isoformat(), "state": item.state, "reason": item.reason,
        "snoozed": item.snoozed,
    }  # fmt: skip


@api.get("/follow-ups")
async def api_follow_ups(
    auth: ApiAuth,
    session: SessionDep,
    until: date | None = None,
    contact_id: IdQuery = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Open follow-ups, soonest due first (due by `until`, if given)."""
    rows, total = await followups.open_follow_ups(
        session, auth.actor, until=until, contact_id=contact_id, limit=limit
    )
    return {"total": total, "items": [_follow_up_out(r.item) | {"contact": r.name} for r in rows]}


@api.post("/follow-ups", status_code=201)
async def api_add_follow_up(auth: ApiAuth, session: SessionDep, data: FollowUpIn) -> dict[str, Any]:
    return _follow_up_out(await followups.create_follow_up(session, auth.actor, data))


@api.post("/follow-ups/{follow_up_id}/{action}")
async def api_settle_follow_up(
    auth: ApiAuth, session: SessionDep, follow_up_id: Id, action: str, days: int = 7
) -> dict[str, Any]:
    """`done`, `dismiss` (a suggestion not needed), `reopen`, or `snooze` (due again `days`
    — 1, 3, 7 or 14 — after today)."""
    return _follow_up_out(await _settle(session, auth, follow_up_id, action, days))
