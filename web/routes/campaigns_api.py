"""JSON API for campaigns and sender identities, under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from crm.errors import InvalidInput
from crm.i18n import N_
from crm.models import Campaign, Delivery, SenderIdentity
from crm.models.base import DbId, Input
from outreach import campaigns, outbox, senders
from outreach.campaigns import CampaignIn
from outreach.senders import SenderIn
from web.deps import ApiAuth, Id, SessionDep, SettingsDep, require_form_csrf

api = APIRouter(tags=["campaigns"])


class VariantOut(BaseModel):
    subject: str
    body: str


class CampaignOut(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    sender_id: int | None
    default_language: str
    variants: dict[str, VariantOut]
    embargo: str
    custom_fields: dict[str, str]
    audience: dict[str, list[int]]
    scheduled_at: datetime | None
    deadline_at: datetime | None
    paused_reason: str
    counts: dict[str, int]
    attachments: list[dict[str, str | int]]
    created_at: datetime
    launched_at: datetime | None
    finished_at: datetime | None


class ExcludedOut(BaseModel):
    name: str
    address: str
    reason: str
    detail: str
    contact_id: int | None
    outlet_id: int | None


class CheckOut(BaseModel):
    recipients: int
    excluded: list[ExcludedOut]
    over_pitched: list[dict[str, int | str]]
    pitch_limit: int


class LaunchIn(Input):
    expected: int | None = None


class TestIn(Input):
    as_contact_id: int | None = None


class UnknownIn(Input):
    delivery_ids: list[DbId] = Field(max_length=10_000)
    outcome: Literal["sent", "resend", "failed"]


class DeliveryOut(BaseModel):
    id: int
    contact_id: int | None
    outlet_id: int | None
    address: str
    language: str
    status: str
    attempts: int
    message_id: str
    last_error: str
    sent_at: datetime | None
    replied_at: datetime | None
    bounced_at: datetime | None
    unsubscribed_at: datetime | None


class SenderOut(BaseModel):
    id: int
    from_name: str
    from_address: str
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    smtp_username: str
    has_password: bool
    per_minute: int | None
    per_day: int | None
    dkim_selector: str
    has_dkim_key: bool


def _campaign_out(view: campaigns.CampaignView) -> CampaignOut:
    c: Campaign = view.campaign
    return CampaignOut(
        id=c.id or 0, name=c.name, kind=c.kind, status=c.status, sender_id=c.sender_id,
        default_language=c.default_language,
        variants={k: VariantOut(subject=v.subject, body=v.body) for k, v in view.variants.items()},
        embargo=c.embargo, custom_fields=dict(c.custom_fields), audience=dict(c.audience),
        scheduled_at=c.scheduled_at, deadline_at=c.deadline_at, paused_reason=c.paused_reason,
        counts=view.counts,
        attachments=[
            {"id": a.id or 0, "filename": a.filename, "content_type": a.content_type,
             "size": a.size} for a in view.attachments
        ],
        created_at=c.created_at, launched_at=c.launched_at, finished_at=c.finished_at,
    )  # fmt: skip


def _delivery_out(d: Delivery, org_id: int) -> DeliveryOut:
    out = DeliveryOut.model_validate(d, from_attributes=True)
    if d.org_id != org_id:  # a partner's contact in a joint campaign: its fate, not its data
        out.contact_id, out.address = None, ""
    return out


def _sender_out(s: SenderIdentity) -> SenderOut:
    return SenderOut(
        id=s.id or 0, from_name=s.from_name, from_address=s.from_address,
        smtp_host=s.smtp_host, smtp_port=s.smtp_port, smtp_tls=s.smtp_tls,
        smtp_username=s.smtp_username, has_password=bool(s.smtp_password),
        per_minute=s.per_minute, per_day=s.per_day, dkim_selector=s.dkim_selector,
        has_dkim_key=bool(s.dkim_key),
    )  # fmt: skip


@api.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(auth: ApiAuth, session: SessionDep) -> list[CampaignOut]:
    rows = await campaigns.list_campaigns(session, auth.actor)
    return [
        _campaign_out(await campaigns.campaign_view(session, auth.actor, c.id or 0))
        for c, _ in rows
    ]


@api.post("/campaigns", response_model=CampaignOut, status_code=201)
async def create_campaign(auth: ApiAuth, session: SessionDep, data: CampaignIn) -> CampaignOut:
    campaign = await campaigns.create_campaign(session, auth.actor, data)
    return _campaign_out(await campaigns.campaign_view(session, auth.actor, campaign.id or 0))


@api.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(auth: ApiAuth, session: SessionDep, campaign_id: Id) -> CampaignOut:
    return _campaign_out(await campaigns.campaign_view(session, auth.actor, campaign_id))


@api.put("/campaigns/{campaign_id}", response_model=CampaignOut)
async def update_campaign(
    auth: ApiAuth, session: SessionDep, campaign_id: Id, data: CampaignIn
) -> CampaignOut:
    await campaigns.update_campaign(session, auth.actor, campaign_id, data)
    return _campaign_out(await campaigns.campaign_view(session, auth.actor, campaign_id))


@api.get("/campaigns/{campaign_id}/check", response_model=CheckOut)
async def check_campaign(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> CheckOut:
    """Who would receive it now, who is left out and why, and who is over-pitched."""
    plan = (await outbox.check(session, auth.actor, settings, campaign_id)).plan
    return CheckOut(
        recipients=len(plan.recipients),
        excluded=[
            ExcludedOut(
                name=e.name,
                address=e.address,
                reason=e.reason,
                detail=e.detail,
                contact_id=e.contact_id,
                outlet_id=e.outlet_id,
            )
            for e in plan.excluded
        ],  # fmt: skip
        over_pitched=[
            {"contact_id": o.contact_id, "name": o.name, "count": o.count}
            for o in plan.over_pitched
        ],
        pitch_limit=plan.pitch_limit,
    )


@api.post("/campaigns/{campaign_id}/launch", response_model=CampaignOut)
async def launch_campaign(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id, data: LaunchIn
) -> CampaignOut:
    """Write every delivery and start sending (or schedule). `expected`: the recipient count
    you confirmed; when the audience changed since, the answer is 409 and nothing is sent."""
    await outbox.launch(session, auth.actor, settings, campaign_id, expected=data.expected)
    return _campaign_out(await campaigns.campaign_view(session, auth.actor, campaign_id))


@api.post("/campaigns/{campaign_id}/test", status_code=202)
async def test_campaign(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id, data: TestIn
) -> dict[str, str]:
    """Send the message, as one recipient would get it, to your own address."""
    await outbox.send_test(
        session, auth.actor, settings, campaign_id, to=auth.user.email,
        as_contact_id=data.as_contact_id,
    )  # fmt: skip
    return {"to": auth.user.email}


@api.get("/campaigns/{campaign_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    auth: ApiAuth,
    session: SessionDep,
    campaign_id: Id,
    status: Annotated[str, Query(max_length=12)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[DeliveryOut]:
    rows = await outbox.deliveries(
        session, auth.actor, campaign_id, status=status, limit=limit, offset=offset
    )
    return [_delivery_out(d, auth.actor.org_id) for d in rows]


@api.post("/campaigns/{campaign_id}/deliveries/unknown")
async def resolve_unknown(
    auth: ApiAuth, session: SessionDep, campaign_id: Id, data: UnknownIn
) -> dict[str, int]:
    """Say what became of deliveries whose result was lost: sent, resend, or failed."""
    n = await outbox.resolve_unknown(
        session, auth.actor, campaign_id, data.delivery_ids, data.outcome
    )
    return {"resolved": n}


@api.post("/campaigns/{campaign_id}/attachments", status_code=201)
async def add_attachment(
    request: Request, auth: ApiAuth, session: SessionDep, settings: SettingsDep, campaign_id: Id
) -> dict[str, str | int]:
    """Multipart upload of one PDF or image, field `file`."""
    await campaigns.get_campaign(session, auth.actor, campaign_id)  # another's: not found
    limit = settings.attachment_max_bytes
    async with request.form(max_files=1, max_fields=5, max_part_size=limit) as form:
        require_form_csrf(request, form)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput({"file": N_("Send the file as the multipart field `file`.")})
        content = await upload.read(limit + 1)
        a = await campaigns.add_attachment(
            session, auth.actor, settings, campaign_id, filename=upload.filename or "",
            content_type=upload.content_type or "", content=content,
        )  # fmt: skip
    return {"id": a.id or 0, "filename": a.filename, "size": a.size}


@api.get("/senders", response_model=list[SenderOut])
async def list_senders(auth: ApiAuth, session: SessionDep) -> list[SenderOut]:
    return [_sender_out(s) for s in await senders.list_senders(session, auth.actor)]


@api.post("/senders", response_model=SenderOut, status_code=201)
async def create_sender(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, data: SenderIn
) -> SenderOut:
    """Passwords and DKIM keys are stored encrypted and never returned."""
    return _sender_out(await senders.create_sender(session, auth.actor, settings, data))


@api.put("/senders/{sender_id}", response_model=SenderOut)
async def update_sender(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, sender_id: Id, data: SenderIn
) -> SenderOut:
    return _sender_out(await senders.update_sender(session, auth.actor, settings, sender_id, data))


# Last: /campaigns/{id}/launch, /test and /attachments must match before it.
@api.post("/campaigns/{campaign_id}/{action}", response_model=CampaignOut)
async def change_campaign(
    auth: ApiAuth,
    session: SessionDep,
    campaign_id: Id,
    action: Literal["pause", "resume", "cancel"],
) -> CampaignOut:
    await outbox.change_state(session, auth.actor, campaign_id, action)
    return _campaign_out(await campaigns.campaign_view(session, auth.actor, campaign_id))
