"""Campaign pages: the editor, preview, test send, the pre-launch check, launch, and the
live progress of a send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from crm import coalitions, events, lists
from crm.errors import Conflict, InvalidInput, message_of
from crm.i18n import N_
from crm.models import DELIVERY_STATES, LANGUAGES, ContactEmail, Outlet
from crm.search import normalise_email
from crm.settings import Settings
from outreach import campaigns, outbox, senders
from outreach.campaigns import CampaignIn
from outreach.compose import Outgoing, load_composer
from outreach.inbound import inbox
from outreach.mime import new_message_id
from web.app import MESSAGE_CSP
from web.deps import CurrentAuth, Id, SessionDep, SettingsDep, require_form_csrf, rollback
from web.forms import field_errors, form_dict, optional_int
from web.rendering import render

router = APIRouter(include_in_schema=False)
KIND_NAMES = {
    "press_release": N_("Press release"),
    "pitch": N_("Pitch"),
    "invitation": N_("Invitation"),
    "reminder": N_("Reminder"),
    "other": N_("Other"),
}
PAGE = 100


def _local(settings: Settings, value: str) -> datetime | None:
    """A datetime-local field, read in the instance's zone."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput({"scheduled_at": N_("Enter a date and time.")}) from exc
    return naive.replace(tzinfo=ZoneInfo(settings.timezone)).astimezone(UTC)


def _local_text(settings: Settings, value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M")


def _custom_fields(text: str) -> dict[str, str]:
    """`name = value`, one a line."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise InvalidInput(
                {"custom_fields": N_("Write each field as name = value: “%(line)s”.", line=line)}
            )
        fields[name.strip()] = value.strip()
    return fields


async def _contact_ids(session: SessionDep, auth: CurrentAuth, text: str) -> list[int]:
    """Single contacts, given by their email addresses."""
    wanted = {normalise_email(a) for a in text.replace(",", "\n").split() if a.strip()}
    if not wanted:
        return []
    rows = await session.execute(
        select(ContactEmail.normalised, ContactEmail.contact_id).where(
            ContactEmail.org_id == auth.actor.org_id, ContactEmail.normalised.in_(wanted)
        )
    )
    found = dict(rows.all())
    missing = sorted(wanted - set(found))
    if missing:
        raise InvalidInput(
            {
                "contact_emails": N_(
                    "No contact has the address %(addresses)s.", addresses=", ".join(missing[:5])
                )
            }
        )
    return sorted(set(found.values()))


async def _input(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: Settings
) -> tuple[CampaignIn, dict[str, Any]]:
    data = await form_dict(request)
    variants = {
        lang: {"subject": data.get(f"subject_{lang}", ""), "body": data.get(f"body_{lang}", "")}
        for lang in LANGUAGES
    }
    raw = {
        "name": data.get("name", ""),
        "kind": data.get("kind", "press_release"),
        "coalition_id": optional_int(data.get("coalition_id")),
        "sender_id": optional_int(data.get("sender_id")),
        "event_id": optional_int(data.get("event_id")),
        "default_language": data.get("default_language", "sq"),
        "variants": variants,
        "embargo": data.get("embargo", ""),
        "custom_fields": _custom_fields(data.get("custom_fields", "")),
        "audience": {
            "lists": [i for v in data.get("list_ids", []) if (i := optional_int(v))],
            "outlets": [i for v in data.get("outlet_ids", []) if (i := optional_int(v))],
            "contacts": await _contact_ids(session, auth, data.get("contact_emails", "")),
            "guests": data.get("guest_answers", []),
        },
        "scheduled_at": _local(settings, data.get("scheduled_at", "")),
        "deadline_at": _local(settings, data.get("deadline_at", "")),
    }
    return CampaignIn.model_validate(raw), data


async def _form(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: Settings,
    *,
    campaign_id: int | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> Response:
    outlets = await session.execute(
        select(Outlet.id, Outlet.name, Outlet.desk_email)
        .where(Outlet.org_id == auth.actor.org_id, Outlet.desk_email != "")
        .order_by(Outlet.sort_key)
    )
    ctx = {
        "campaign_id": campaign_id,
        "values": values,
        "errors": errors or {},
        "kinds": KIND_NAMES,
        "languages": LANGUAGES,
        "senders": await senders.usable_senders(session, auth.actor),
        "lists": await lists.list_choices(session, auth.actor),
        "shared": [
            row
            for row in await lists.shared_lists(session, auth.actor)
            if row[2] != auth.actor.org_id
        ],  # partners' lists; its own are above
        "coalitions": await coalitions.my_coalitions(session, auth.actor),
        "desks": list(outlets.all()),
        "events": await events.list_events(session, auth.actor.org_id),
    }
    return render(request, "campaigns/form.html", ctx, status_code=422 if errors else 200)


def _values_of(view: campaigns.CampaignView, settings: Settings, emails: str) -> dict[str, Any]:
    c = view.campaign
    values: dict[str, Any] = {
        "name": c.name,
        "kind": c.kind,
        "coalition_id": str(c.coalition_id or ""),
        "sender_id": str(c.sender_id or ""),
        "event_id": str(c.event_id or ""),
        "default_language": c.default_language,
        "embargo": c.embargo,
        "custom_fields": "\n".join(f"{k} = {v}" for k, v in c.custom_fields.items()),
        "list_ids": [str(i) for i in c.audience.get("lists", [])],
        "outlet_ids": [str(i) for i in c.audience.get("outlets", [])],
        "guest_answers": list(c.audience.get("guests", [])),
        "contact_emails": emails,
        "scheduled_at": _local_text(settings, c.scheduled_at),
        "deadline_at": _local_text(settings, c.deadline_at),
    }
    for lang, v in view.variants.items():
        values[f"subject_{lang}"], values[f"body_{lang}"] = v.subject, v.body
    return values


async def _emails_of(session: SessionDep, auth: CurrentAuth, ids: list[int]) -> str:
    if not ids:
        return ""
    rows = await session.execute(
        select(ContactEmail.email)
        .where(ContactEmail.contact_id.in_(ids), ContactEmail.position == 0)
        .where(ContactEmail.org_id == auth.actor.org_id)
        .order_by(ContactEmail.email)
    )
    return "\n".join(rows.scalars())


@router.get("/campaigns")
async def campaign_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    rows = await campaigns.list_campaigns(session, auth.actor)
    return render(request, "campaigns/list.html", {"rows": rows, "kinds": KIND_NAMES})


@router.get("/campaigns/new")
async def new_campaign(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    auth.actor.require_write()
    values = {"default_language": auth.org.default_language, "kind": "press_release"}
    return await _form(request, auth, session, settings, campaign_id=None, values=values)


async def _save(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: Settings,
    campaign_id: int | None,
) -> Response:
    values: dict[str, Any] = await form_dict(request)
    try:
        data, values = await _input(request, auth, session, settings)
        if campaign_id is None:
            campaign = await campaigns.create_campaign(session, auth.actor, data)
        else:
            campaign = await campaigns.update_campaign(session, auth.actor, campaign_id, data)
    except ValidationError as exc:
        return await _form(
            request, auth, session, settings, campaign_id=campaign_id, values=values,
            errors=_campaign_errors(exc),
        )  # fmt: skip
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _form(
            request, auth, session, settings, campaign_id=campaign_id, values=values,
            errors=exc.errors,
        )  # fmt: skip
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


def _campaign_errors(exc: ValidationError) -> dict[str, str]:
    """Field errors keyed as the form names them (`subject_sq`, not `variants.sq.subject`)."""
    errors = field_errors(exc)
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc[:1] == ["variants"] and len(loc) >= 3:
            errors.setdefault(f"{loc[2]}_{loc[1]}", err["msg"].removeprefix("Value error, "))
            errors.pop("variants", None)
    return errors


@router.post("/campaigns")
async def create_campaign(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    return await _save(request, auth, session, settings, None)


@router.get("/campaigns/{campaign_id}/edit")
async def edit_campaign(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    auth.actor.require_write()
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # only its own
    view = await campaigns.campaign_view(session, auth.actor, campaign_id)
    campaigns.require_draft(view.campaign)
    emails = await _emails_of(session, auth, view.campaign.audience.get("contacts", []))
    values = _values_of(view, settings, emails)
    return await _form(request, auth, session, settings, campaign_id=campaign_id, values=values)


@router.post("/campaigns/{campaign_id}/edit")
async def update_campaign(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    return await _save(request, auth, session, settings, campaign_id)


async def _progress_context(
    session: SessionDep, auth: CurrentAuth, campaign_id: int, status: str, page: int
) -> dict[str, Any]:
    view = await campaigns.campaign_view(session, auth.actor, campaign_id)
    rows = await outbox.deliveries(
        session, auth.actor, campaign_id, status=status, limit=PAGE, offset=(page - 1) * PAGE
    )
    own = view.campaign.org_id == auth.actor.org_id
    joint = await coalitions.coalition_name(session, view.campaign.coalition_id)
    replies = await inbox.replies_of(session, auth.actor, [d.id for d in rows if d.id])
    return {"view": view, "c": view.campaign, "rows": rows, "status": status, "page": page,
            "replies": replies,
            "responses": await inbox.responses(session, auth.actor, campaign_id),
            "kinds": KIND_NAMES, "total": sum(view.counts.values()), "joint": joint,
            "own": own, "can_change": own and auth.actor.can_write}  # fmt: skip


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    request: Request, auth: CurrentAuth, session: SessionDep, campaign_id: Id
) -> Response:
    status = request.query_params.get("status", "")
    status = status if status in DELIVERY_STATES else ""
    page = max(optional_int(request.query_params.get("page")) or 1, 1)
    ctx = await _progress_context(session, auth, campaign_id, status, page)
    return render(request, "campaigns/detail.html", ctx, block="progress")


@router.get("/campaigns/{campaign_id}/preview")
async def preview(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    """The message as one recipient would get it."""
    campaign = await campaigns.get_campaign(session, auth.actor, campaign_id)
    compiled = await outbox.compiled_for(session, campaign)
    recipient = await outbox.preview_recipient(
        session, settings, campaign, compiled, optional_int(request.query_params.get("contact_id"))
    )
    composer = await load_composer(session, settings, campaign)
    row = Outgoing(
        0, campaign_id, recipient.address or "journalist@example.org", recipient.name,
        recipient.language, recipient.fields, recipient.personal_line,
        recipient.privacy_notice, new_message_id(composer.domain), False,
    )  # fmt: skip
    from outreach.catcher import open_message

    error = ""
    opened = None
    try:
        opened = open_message(composer.build(row))
    except Exception as exc:  # noqa: BLE001 (a render error is shown, not raised)
        error = message_of(exc)
    check = await outbox.check(session, auth.actor, settings, campaign_id)
    response = render(
        request,
        "campaigns/preview.html",
        {"c": campaign, "m": opened, "error": error, "recipient": recipient,
         "recipients": check.plan.recipients[:500]},
    )  # fmt: skip
    response.headers["Content-Security-Policy"] = MESSAGE_CSP
    return response


@router.post("/campaigns/{campaign_id}/test")
async def send_test(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    data = await form_dict(request)
    await outbox.send_test(
        session, auth.actor, settings, campaign_id,
        to=auth.user.email, as_contact_id=optional_int(data.get("contact_id")),
    )  # fmt: skip
    return RedirectResponse(f"/campaigns/{campaign_id}?test=sent", status_code=303)


@router.get("/campaigns/{campaign_id}/check")
async def check_page(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    check = await outbox.check(session, auth.actor, settings, campaign_id)
    return render(request, "campaigns/check.html", {"c": check.campaign, "plan": check.plan})


@router.post("/campaigns/{campaign_id}/launch")
async def launch(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    data = await form_dict(request)
    try:
        await outbox.launch(
            session, auth.actor, settings, campaign_id, expected=optional_int(data.get("expected"))
        )
    except Conflict as exc:
        campaign = await campaigns.get_campaign(session, auth.actor, campaign_id)
        await session.refresh(campaign)
        if campaign.status != "draft":  # a double click: the first launch is what counts
            return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
        check = await outbox.check(session, auth.actor, settings, campaign_id)
        ctx = {"c": check.campaign, "plan": check.plan, "conflict": message_of(exc)}
        return render(request, "campaigns/check.html", ctx, status_code=409)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/personal")
async def personal_line(
    request: Request, auth: CurrentAuth, session: SessionDep, campaign_id: Id
) -> Response:
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # another's: not found
    data = await form_dict(request)
    contact_id = optional_int(data.get("contact_id"))
    if contact_id is None:
        raise InvalidInput({"contact_id": N_("Choose a recipient.")})
    await campaigns.set_personal_line(
        session, auth.actor, campaign_id, contact_id, data.get("personal_line", "")
    )
    return RedirectResponse(f"/campaigns/{campaign_id}/check#c{contact_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/unknown")
async def resolve_unknown(
    request: Request, auth: CurrentAuth, session: SessionDep, campaign_id: Id
) -> Response:
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # another's: not found
    data = await form_dict(request)
    outcome = data.get("outcome", "")
    if outcome not in ("sent", "resend", "failed"):
        raise InvalidInput({"outcome": N_("Choose what happened to these messages.")})
    ids = [i for v in data.get("delivery_ids", []) if (i := optional_int(v))]
    if not ids:
        raise InvalidInput({"delivery_ids": N_("Tick the messages you want to resolve.")})
    await outbox.resolve_unknown(session, auth.actor, campaign_id, ids, outcome)
    return RedirectResponse(f"/campaigns/{campaign_id}?status=unknown", status_code=303)


@router.post("/campaigns/{campaign_id}/attachments")
async def add_attachment(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> Response:
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # another's: not found
    async with request.form(
        max_files=1, max_fields=5, max_part_size=settings.attachment_max_bytes
    ) as form:
        require_form_csrf(request, form)
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise InvalidInput({"file": N_("Choose a file to attach.")})
        content = await upload.read(settings.attachment_max_bytes + 1)
        await campaigns.add_attachment(
            session, auth.actor, settings, campaign_id, filename=upload.filename,
            content_type=upload.content_type or "", content=content,
        )  # fmt: skip
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/attachments/{attachment_id}/delete")
async def remove_attachment(
    auth: CurrentAuth, session: SessionDep, campaign_id: Id, attachment_id: Id
) -> Response:
    await campaigns.remove_attachment(session, auth.actor, campaign_id, attachment_id)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


# Last: the other /campaigns/{id}/… posts must match first.
@router.post("/campaigns/{campaign_id}/{action}")
async def change_state(
    request: Request, auth: CurrentAuth, session: SessionDep, campaign_id: Id, action: str
) -> Response:
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # another's: not found
    if action not in ("pause", "resume", "cancel"):
        raise InvalidInput({"action": N_("Unknown action.")})
    await outbox.change_state(session, auth.actor, campaign_id, action)  # type: ignore[arg-type]
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
