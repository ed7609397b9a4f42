"""Press events: the list, the form, an event's page with its guests, the door (check-in on
a phone), the subscribable calendar feed, and the JSON API."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm import attendance, coalitions, events, lists
from crm.errors import InvalidInput, NotFound
from crm.events import EventIn
from crm.i18n import N_
from crm.models import Event, Organisation
from crm.settings import Settings
from outreach import calendar, campaigns, invitations
from web.deps import ApiAuth, CurrentAuth, Id, SessionDep, SettingsDep, rollback
from web.forms import field_errors, form_dict, optional_int
from web.rendering import is_htmx, render

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["events"])

ZONES = ("Europe/Belgrade", "Europe/Tirane", "Europe/Skopje", "Europe/Brussels", "UTC")


def feed_token(settings: Settings, org_id: int) -> str:
    """The secret part of an organisation's feed address (stable: from the suppression key)."""
    message = f"beatbook events feed {org_id}".encode()
    return hmac.new(settings.suppression_hmac_key, message, hashlib.sha256).hexdigest()[:32]


def _form_values(data: dict[str, Any]) -> dict[str, Any]:
    speakers = [s.strip() for s in (data.get("speakers") or "").splitlines() if s.strip()]
    return {
        "title": data.get("title", ""),
        "description": data.get("description", ""),
        "starts_at": data.get("starts_at") or None,
        "ends_at": data.get("ends_at") or None,
        "timezone": data.get("timezone") or events.DEFAULT_ZONE,
        "venue": data.get("venue", ""),
        "address": data.get("address", ""),
        "online_link": data.get("online_link", ""),
        "capacity": data.get("capacity") or None,
        "organiser": data.get("organiser", ""),
        "speakers": speakers,
        "coalition_id": optional_int(data.get("coalition_id")),
    }


def _as_form(event: Event) -> dict[str, Any]:
    """An event's values as its form shows them: wall-clock times in its zone."""
    fmt = "%Y-%m-%dT%H:%M"
    return {
        "title": event.title, "description": event.description,
        "starts_at": events.local(event.starts_at, event.timezone).strftime(fmt),
        "ends_at": events.local(event.ends_at, event.timezone).strftime(fmt),
        "timezone": event.timezone, "venue": event.venue, "address": event.address,
        "online_link": event.online_link, "capacity": event.capacity or "",
        "organiser": event.organiser, "speakers": event.speakers,
        "coalition_id": event.coalition_id,
    }  # fmt: skip


async def _form(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    values: dict[str, Any],
    errors: dict[str, str],
    event: Event | None = None,
) -> Response:
    ctx = {
        "values": values, "errors": errors, "event": event, "zones": ZONES,
        "coalitions": [v for v in await coalitions.my_coalitions(session, auth.actor)
                       if v.my_status == "accepted"],
    }  # fmt: skip
    return render(request, "events/form.html", ctx, status_code=422 if errors else 200)


@router.get("/events")
async def event_list(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    past = request.query_params.get("past") == "1"
    rows = await events.list_events(session, auth.actor.org_id, past=past)
    org_id = auth.actor.org_id
    feed = f"{settings.base_url}/events/feed/{org_id}/{feed_token(settings, org_id)}.ics"
    return render(request, "events/list.html", {"rows": rows, "past": past, "feed": feed})


@router.get("/events/new")
async def new_event(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    auth.actor.require_write()
    values = {"timezone": events.DEFAULT_ZONE, "organiser": auth.org.name, "speakers": []}
    return await _form(request, auth, session, values, {})


@router.post("/events")
async def create(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    data = await form_dict(request)
    values = _form_values(data)
    try:
        event = await events.create_event(session, auth.actor, EventIn.model_validate(values))
    except ValidationError as exc:
        return await _form(request, auth, session, values, field_errors(exc))
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _form(request, auth, session, values, exc.errors)
    return RedirectResponse(f"/events/{event.id}", status_code=303)


@router.get("/events/{event_id}")
async def event_page(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id
) -> Response:
    event = await events.get_event(session, auth.actor, event_id)
    guests = await attendance.guest_list(session, event_id)
    ended = event.ends_at < datetime.now(UTC)
    ctx = {
        "event": event,
        "guests": guests,
        # A co-host sees every guest's name and answer, but opens only the contacts it holds.
        "held": await attendance.held_contacts(session, auth.actor, guests),
        "lists": await lists.list_choices(session, auth.actor),
        "to_follow_up": (
            await attendance.attended_not_covered(session, auth.actor, event_id) if ended else []
        ),
        "ended": ended,
        "counts": await attendance.counts(session, event_id),
        "coalition": await coalitions.coalition_name(session, event.coalition_id),
        "organiser_org": await session.get(Organisation, event.org_id),
        "mine": event.org_id == auth.actor.org_id,
    }
    return render(request, "events/detail.html", ctx)


@router.get("/events/{event_id}/edit")
async def edit_event(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id
) -> Response:
    auth.actor.require_write()
    event = await events.get_event(session, auth.actor, event_id)
    return await _form(request, auth, session, _as_form(event), {}, event)


@router.post("/events/{event_id}")
async def update(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id
) -> Response:
    event = await events.get_event(session, auth.actor, event_id)
    values = _form_values(await form_dict(request))
    try:
        change = await events.update_event(
            session, auth.actor, event_id, EventIn.model_validate(values)
        )
        await attendance.fill_seats(session, change.event)
    except ValidationError as exc:
        return await _form(request, auth, session, values, field_errors(exc), event)
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _form(request, auth, session, values, exc.errors, event)
    return RedirectResponse(f"/events/{event_id}", status_code=303)


@router.post("/events/{event_id}/cancel")
async def cancel(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id
) -> Response:
    await events.cancel_event(session, auth.actor, event_id)
    return RedirectResponse(f"/events/{event_id}", status_code=303)


@router.post("/events/{event_id}/guests")
async def pick(request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id) -> Response:
    """A co-host (or the organiser) picks guests from one of its own lists."""
    data = await form_dict(request)
    list_id = optional_int(data.get("list_id"))
    if list_id is None:
        raise InvalidInput({"list_id": N_("Choose one of your lists.")})
    await attendance.pick_from_list(session, auth.actor, event_id, list_id)
    return RedirectResponse(f"/events/{event_id}#guests", status_code=303)


@router.post("/events/{event_id}/draft/{purpose}")
async def draft(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id, purpose: str
) -> Response:
    """Start the campaign a button offers (invite, update, cancel, remind, ask), as a draft
    the officer reads and launches."""
    event = await events.get_event(session, auth.actor, event_id)
    if purpose not in invitations.PURPOSES:
        raise NotFound("draft")
    data = invitations.draft_input(event, purpose, auth.org.default_language)
    if event.coalition_id is not None and event.org_id != auth.actor.org_id:
        data.coalition_id = event.coalition_id  # a co-host writes in the coalition's name too
    campaign = await campaigns.create_campaign(session, auth.actor, data)
    return RedirectResponse(f"/campaigns/{campaign.id}/edit", status_code=303)


# --- the door --------------------------------------------------------------------------------


@router.get("/events/{event_id}/door")
async def door(request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id) -> Response:
    """The check-in page: a search box and a tick per guest, made for a phone at the door."""
    event = await events.get_event(session, auth.actor, event_id)
    q = (request.query_params.get("q") or "")[:100]
    guests = [g for g in await attendance.guest_list(session, event_id) if attendance.matches(g, q)]
    ctx = {"event": event, "guests": guests, "q": q,
           "counts": await attendance.counts(session, event_id), "errors": {}}  # fmt: skip
    return render(request, "events/door.html", ctx, block="guests" if is_htmx(request) else None)


@router.post("/events/{event_id}/door/{guest_id}")
async def tick(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id, guest_id: Id
) -> Response:
    data = await form_dict(request)
    guest = await attendance.check_in(
        session, auth.actor, event_id, guest_id, arrived=data.get("arrived") != "0"
    )
    if is_htmx(request):
        event = await events.get_event(session, auth.actor, event_id)
        return render(request, "events/door.html", {"event": event, "g": guest}, block="guest")
    return RedirectResponse(f"/events/{event_id}/door", status_code=303)


@router.post("/events/{event_id}/walk-in")
async def walk_in(
    request: Request, auth: CurrentAuth, session: SessionDep, event_id: Id
) -> Response:
    data = await form_dict(request)
    try:
        await attendance.walk_in(
            session, auth.actor, event_id, name=str(data.get("name", ""))[:200],
            address=str(data.get("email", ""))[:320],
        )  # fmt: skip
    except InvalidInput as exc:
        await rollback(session, auth)
        event = await events.get_event(session, auth.actor, event_id)
        guests = await attendance.guest_list(session, event_id)
        ctx = {"event": event, "guests": guests, "q": "", "errors": exc.errors,
               "counts": await attendance.counts(session, event_id)}  # fmt: skip
        return render(request, "events/door.html", ctx, status_code=422)
    return RedirectResponse(f"/events/{event_id}/door", status_code=303)


# --- the feed ---------------------------------------------------------------------------------


@router.get("/events/feed/{org_id}/{token}.ics")
async def events_feed(
    session: SessionDep, settings: SettingsDep, org_id: Id, token: str
) -> Response:
    """An organisation's events for calendar apps to subscribe to; the token is the key."""
    if not hmac.compare_digest(token, feed_token(settings, org_id)):
        raise NotFound("feed")
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("feed")
    rows = await events.feed_events(session, org_id)
    body = calendar.feed(rows, name=org.name, organiser_domain=settings.reply_domain)
    headers = {"Cache-Control": "private, max-age=300"}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


# --- the API ----------------------------------------------------------------------------------


def _event_out(event: Event) -> dict[str, Any]:
    return {
        "id": event.id, "title": event.title, "description": event.description,
        "starts_at": event.starts_at.isoformat(), "ends_at": event.ends_at.isoformat(),
        "timezone": event.timezone, "venue": event.venue, "address": event.address,
        "online_link": event.online_link, "capacity": event.capacity,
        "organiser": event.organiser, "speakers": event.speakers, "status": event.status,
        "coalition_id": event.coalition_id, "uid": event.uid, "sequence": event.sequence,
        "organisation_id": event.org_id,
    }  # fmt: skip


@api.get("/events")
async def api_events(
    auth: ApiAuth, session: SessionDep, past: bool = False
) -> list[dict[str, Any]]:
    return [_event_out(e) for e in await events.list_events(session, auth.actor.org_id, past=past)]


@api.post("/events", status_code=201)
async def api_create(auth: ApiAuth, session: SessionDep, data: EventIn) -> dict[str, Any]:
    return _event_out(await events.create_event(session, auth.actor, data))


@api.get("/events/{event_id}")
async def api_event(auth: ApiAuth, session: SessionDep, event_id: Id) -> dict[str, Any]:
    event = await events.get_event(session, auth.actor, event_id)
    counts = await attendance.counts(session, event_id)
    return _event_out(event) | {"counts": counts.__dict__ | {"invited": counts.invited}}


@api.put("/events/{event_id}")
async def api_update(
    auth: ApiAuth, session: SessionDep, event_id: Id, data: EventIn
) -> dict[str, Any]:
    change = await events.update_event(session, auth.actor, event_id, data)
    await attendance.fill_seats(session, change.event)
    return _event_out(change.event) | {"calendar_changed": change.calendar_changed}


@api.post("/events/{event_id}/cancel")
async def api_cancel(auth: ApiAuth, session: SessionDep, event_id: Id) -> dict[str, Any]:
    return _event_out(await events.cancel_event(session, auth.actor, event_id))
