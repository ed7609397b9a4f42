"""Campaigns: a press release, pitch or invitation written once per language, with its
audience, attachments, schedule and deadline. Sending is the outbox's business."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, coalitions, events, serbian
from crm.accounts import Actor
from crm.errors import Conflict, InvalidInput, NotFound
from crm.i18n import N_
from crm.models import (
    Campaign,
    CampaignAttachment,
    CampaignVariant,
    Contact,
    ContactEmail,
    ContactList,
    Delivery,
    ListShare,
    Outlet,
    PersonalLine,
    SenderIdentity,
)
from crm.models.base import DbId, Input, sensible_year
from crm.settings import Settings
from outreach import merge

Language = Literal["en", "sq", "sr-Latn", "sr-Cyrl"]
ATTACHMENT_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


class VariantIn(Input):
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    body: Annotated[str, StringConstraints(max_length=100_000)] = ""


# "picked": chosen by a co-host and not invited yet; the others are answers, "accepted"
# with a seat and "waitlisted" without one.
GuestAnswer = Literal["picked", "accepted", "waitlisted", "tentative", "none", "declined"]


class AudienceIn(Input):
    lists: list[DbId] = Field(default_factory=list, max_length=200)
    contacts: list[DbId] = Field(default_factory=list, max_length=50_000)
    outlets: list[DbId] = Field(default_factory=list, max_length=2_000)
    # Guests of the campaign's event with these answers ("accepted" means with a seat):
    # an update goes to all but "declined", a reminder to "accepted" and "tentative".
    guests: list[GuestAnswer] = Field(default_factory=list, max_length=5)


class CampaignIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: Literal["press_release", "pitch", "invitation", "reminder", "other"] = "press_release"
    # A joint statement of a coalition: lists shared with it by partners may be chosen.
    coalition_id: DbId | None = None
    sender_id: DbId | None = None
    # What an invitation invites to: its calendar invitation and RSVP links come from it.
    event_id: DbId | None = None
    default_language: Language = "sq"
    variants: dict[Language, VariantIn] = Field(default_factory=dict)
    embargo: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    custom_fields: dict[str, Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=dict, max_length=30
    )
    audience: AudienceIn = Field(default_factory=AudienceIn)
    scheduled_at: datetime | None = None
    deadline_at: datetime | None = None

    _years = field_validator("scheduled_at", "deadline_at")(sensible_year)

    @field_validator("scheduled_at", "deadline_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @model_validator(mode="after")
    def _consistent(self) -> CampaignIn:
        if self.audience.guests and self.event_id is None:
            raise ValueError(N_("Choose the event whose guests should receive this."))
        if self.scheduled_at and self.deadline_at and self.deadline_at <= self.scheduled_at:
            raise ValueError(N_("The send deadline must come after the scheduled time."))
        for name in self.custom_fields:
            merge.check_custom_field_name(name)
        return self


@dataclass
class CampaignView:
    campaign: Campaign
    variants: dict[str, CampaignVariant]
    attachments: list[CampaignAttachment]
    sender: SenderIdentity | None
    counts: dict[str, int] = field(default_factory=dict)


async def _check_references(session: AsyncSession, actor: Actor, data: CampaignIn) -> None:
    if data.event_id is not None:
        try:
            await events.get_event(session, actor, data.event_id)
        except NotFound as exc:
            raise InvalidInput({"event_id": N_("Choose one of your events.")}) from exc
    if data.coalition_id is not None:
        try:
            await coalitions.require_member(session, actor, data.coalition_id)
        except NotFound as exc:
            raise InvalidInput({"coalition_id": N_("Choose one of your coalitions.")}) from exc
    if data.sender_id is not None:
        sender = await session.get(SenderIdentity, data.sender_id)
        own = (
            sender is not None
            and sender.org_id == actor.org_id
            and sender.coalition_id in (None, data.coalition_id)
        )
        joint = (
            sender is not None and data.coalition_id and sender.coalition_id == data.coalition_id
        )
        if not (own or joint):
            raise InvalidInput({"sender_id": N_("Choose one of your organisation's senders.")})
    for model, ids, name, missing in (
        (Contact, data.audience.contacts, "contacts", N_("Some of those contacts do not exist.")),
        (Outlet, data.audience.outlets, "outlets", N_("Some of those outlets do not exist.")),
    ):
        if ids and not await _all_own(session, model, ids, actor.org_id):
            raise InvalidInput({f"audience.{name}": missing})
    usable = await usable_lists(session, actor.org_id, data.coalition_id, data.audience.lists)
    if len(usable) != len(set(data.audience.lists)):
        raise InvalidInput({"audience.lists": N_("Some of those lists do not exist.")})


async def _all_own(session: AsyncSession, model: Any, ids: list[int], org_id: int) -> bool:
    """Every one of `ids` is a row of `model` held by the organisation."""
    found = await session.execute(
        select(func.count()).where(model.id.in_(ids), model.org_id == org_id)
    )
    return int(found.scalar_one()) == len(set(ids))


async def usable_lists(
    session: AsyncSession, org_id: int, coalition_id: int | None, list_ids: list[int]
) -> dict[int, int]:
    """Of `list_ids`, those a campaign may reach (the organisation's own, and in a coalition
    campaign those shared with the coalition): list id → the organisation that holds it."""
    if not list_ids:
        return {}
    shared = select(ListShare.list_id).where(ListShare.coalition_id == coalition_id)
    allowed = ContactList.org_id == org_id
    if coalition_id is not None:
        allowed = allowed | ContactList.id.in_(shared)
    rows = await session.execute(
        select(ContactList.id, ContactList.org_id).where(ContactList.id.in_(list_ids), allowed)
    )
    return dict(rows.all())  # type: ignore[arg-type]


def pick_language(available: set[str] | dict[str, Any], wanted: str, default: str) -> str:
    """The recipient's language where the campaign has it (Serbian in either script, once
    compiled), else the campaign's default."""
    return wanted if wanted in available else default


def compile_variants(
    campaign: Campaign, variants: dict[str, CampaignVariant]
) -> dict[str, merge.CompiledVariant]:
    """Every language's subject and body, checked and compiled; raises TemplateError with
    the field of the language at fault.

    Serbian written in one script also reaches readers of the other: a campaign with only
    sr-Latn gets an sr-Cyrl variant transliterated from it, and the reverse."""
    compiled: dict[str, merge.CompiledVariant] = {}
    errors: dict[str, str] = {}
    for language, variant in variants.items():
        try:
            compiled[language] = merge.compile_variant(
                subject=variant.subject,
                body=variant.body,
                embargo=campaign.embargo,
                custom_fields=campaign.custom_fields,
            )
        except InvalidInput as exc:
            errors.update({f"variants.{language}.{k}": v for k, v in exc.errors.items()})
    if errors:
        raise InvalidInput(errors)
    for written, other in (("sr-Latn", "sr-Cyrl"), ("sr-Cyrl", "sr-Latn")):
        if written in variants and other not in variants:
            source = variants[written]
            try:
                compiled[other] = merge.compile_variant(
                    subject=serbian.to_script(source.subject, other),
                    body=serbian.to_script(source.body, other),
                    embargo=serbian.to_script(campaign.embargo, other),
                    custom_fields=campaign.custom_fields,
                )
            except InvalidInput:
                # Cyrillic Љ is Latin Lj: a text at its size limit may not fit in the other
                # script. Its readers then get the default language, and the campaign goes.
                continue
    return compiled


def _check_variants(data: CampaignIn) -> None:
    written = {lang: v for lang, v in data.variants.items() if v.subject or v.body}
    if data.default_language not in written:
        raise InvalidInput(
            {"default_language": N_("Write the campaign in its default language first.")}
        )
    for lang, v in written.items():
        if not v.subject or not v.body:
            raise InvalidInput({f"variants.{lang}.subject": N_("Give each language a subject "
                                "and a body, or leave both empty.")})  # fmt: skip


async def _save(session: AsyncSession, campaign: Campaign, data: CampaignIn) -> None:
    _check_variants(data)
    for name in ("name", "kind", "coalition_id", "sender_id", "event_id", "default_language",
                 "embargo"):  # fmt: skip
        setattr(campaign, name, getattr(data, name))
    campaign.custom_fields = dict(data.custom_fields)
    campaign.audience = data.audience.model_dump()
    campaign.scheduled_at, campaign.deadline_at = data.scheduled_at, data.deadline_at
    campaign.updated_at = datetime.now(UTC)
    variants = {
        lang: CampaignVariant(campaign_id=0, language=lang, subject=v.subject, body=v.body)
        for lang, v in data.variants.items()
        if v.subject or v.body
    }
    compile_variants(campaign, variants)  # bad templates are refused before anything is saved
    session.add(campaign)
    await session.flush()
    assert campaign.id is not None
    await session.execute(delete(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id))
    for variant in variants.values():
        variant.campaign_id = campaign.id
        session.add(variant)


async def create_campaign(session: AsyncSession, actor: Actor, data: CampaignIn) -> Campaign:
    actor.require_write()
    await _check_references(session, actor, data)
    campaign = Campaign(org_id=actor.org_id, name=data.name, created_by_id=actor.user_id)
    await _save(session, campaign, data)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="campaign", entity_id=campaign.id, changes={"name": campaign.name},
    )  # fmt: skip
    await session.commit()
    return campaign


def require_draft(campaign: Campaign) -> None:
    if campaign.status != "draft":
        raise Conflict(N_("This campaign has been launched; it can no longer be edited."))


async def update_campaign(
    session: AsyncSession, actor: Actor, campaign_id: int, data: CampaignIn
) -> Campaign:
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    require_draft(campaign)
    await _check_references(session, actor, data)
    await _save(session, campaign, data)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="campaign", entity_id=campaign.id, changes={"name": campaign.name},
    )  # fmt: skip
    await session.commit()
    return campaign


async def get_campaign(session: AsyncSession, actor: Actor, campaign_id: int) -> Campaign:
    """The organisation's own campaign: the one it may change."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.org_id != actor.org_id:
        raise NotFound("campaign")
    return campaign


async def readable_campaign(session: AsyncSession, actor: Actor, campaign_id: int) -> Campaign:
    """Its own campaign, or a coalition partner's joint campaign, which it may follow."""
    campaign = await session.get(Campaign, campaign_id)
    joint = campaign is not None and campaign.coalition_id and campaign.status != "draft"
    if campaign is not None and campaign.org_id != actor.org_id and joint:
        if campaign.coalition_id in await coalitions.accepted_coalition_ids(session, actor.org_id):
            return campaign
    if campaign is None or campaign.org_id != actor.org_id:
        raise NotFound("campaign")
    return campaign


def visible_deliveries(actor: Actor, campaign: Campaign) -> list[Any]:
    """Conditions on Delivery for the rows the actor may see: all of its own campaign's (in a
    joint one, partners' rows are shown masked, so their fate can be resolved); of a partner's
    joint campaign, only those to the contacts it holds."""
    conds: list[Any] = [Delivery.campaign_id == campaign.id, Delivery.is_test.is_(False)]
    if campaign.org_id != actor.org_id:
        held = select(ContactEmail.normalised).where(ContactEmail.org_id == actor.org_id)
        conds.append(Delivery.address_norm.in_(held))
    return conds


async def delivery_counts(
    session: AsyncSession, actor: Actor, campaign: Campaign
) -> dict[str, int]:
    """Deliveries by state: the whole campaign for the organisation that sends it, its own
    contacts' for a partner."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(*visible_deliveries(actor, campaign))
        .group_by(Delivery.status)
    )
    return {status: n for status, n in rows.all()}


async def campaign_view(session: AsyncSession, actor: Actor, campaign_id: int) -> CampaignView:
    campaign = await readable_campaign(session, actor, campaign_id)
    variants = await session.execute(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign_id)
    )
    attachments = await session.execute(
        select(CampaignAttachment)
        .where(CampaignAttachment.campaign_id == campaign_id)
        .order_by(CampaignAttachment.id)
    )
    sender = await session.get(SenderIdentity, campaign.sender_id) if campaign.sender_id else None
    return CampaignView(
        campaign,
        {v.language: v for v in variants.scalars()},
        list(attachments.scalars()),
        sender,
        await delivery_counts(session, actor, campaign),
    )


async def list_campaigns(
    session: AsyncSession, actor: Actor, *, limit: int = 100
) -> list[tuple[Campaign, dict[str, int]]]:
    """The organisation's campaigns, and the launched joint campaigns of its coalitions."""
    joint = await coalitions.accepted_coalition_ids(session, actor.org_id)
    partners = (Campaign.coalition_id.in_(joint)) & (Campaign.status != "draft")
    found = await session.execute(
        select(Campaign)
        .where((Campaign.org_id == actor.org_id) | partners)
        .where(Campaign.kind != "answer")  # answers are read in the Inbox
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    return [(c, await delivery_counts(session, actor, c)) for c in found.scalars()]


async def add_attachment(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    campaign_id: int,
    *,
    filename: str,
    content_type: str,
    content: bytes,
) -> CampaignAttachment:
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    require_draft(campaign)
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in ATTACHMENT_TYPES or not _looks_like(content_type, content):
        raise InvalidInput({"file": N_("Attach a PDF or an image (JPEG, PNG, GIF, WebP).")})
    used = await session.execute(
        select(func.coalesce(func.sum(CampaignAttachment.size), 0)).where(
            CampaignAttachment.campaign_id == campaign_id
        )
    )
    if int(used.scalar_one()) + len(content) > settings.attachment_max_bytes:
        limit_mb = settings.attachment_max_bytes / 1024 / 1024
        raise InvalidInput(
            {"file": N_("Attachments may total at most %(mb)s MB.", mb=f"{limit_mb:.0f}")}
        )
    name = "".join(ch for ch in filename.replace("\\", "/").rsplit("/", 1)[-1] if ch >= " ")
    name = name.strip()[:200] or f"attachment{ATTACHMENT_TYPES[content_type]}"
    attachment = CampaignAttachment(
        campaign_id=campaign_id,
        filename=name,
        content_type=content_type,
        size=len(content),
        content=content,
    )
    session.add(attachment)
    await session.commit()
    return attachment


_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


def _looks_like(content_type: str, content: bytes) -> bool:
    """The file is what its type says (a renamed .exe is not a PDF)."""
    return content.startswith(_MAGIC[content_type])


async def remove_attachment(
    session: AsyncSession, actor: Actor, campaign_id: int, attachment_id: int
) -> None:
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    require_draft(campaign)
    await session.execute(
        delete(CampaignAttachment).where(
            CampaignAttachment.id == attachment_id, CampaignAttachment.campaign_id == campaign_id
        )
    )
    await session.commit()


async def set_personal_line(
    session: AsyncSession, actor: Actor, campaign_id: int, contact_id: int, text: str
) -> None:
    """A line for one recipient; empty removes it."""
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    require_draft(campaign)
    from crm.contacts import get_contact

    await get_contact(session, actor, contact_id)
    text = text.strip()
    if len(text) > 1000:
        raise InvalidInput({"personal_line": N_("Keep the personal line under 1,000 characters.")})
    await session.execute(
        delete(PersonalLine).where(
            PersonalLine.campaign_id == campaign_id, PersonalLine.contact_id == contact_id
        )
    )
    if text:
        session.add(PersonalLine(campaign_id=campaign_id, contact_id=contact_id, text=text))
    await session.commit()


async def personal_lines(session: AsyncSession, campaign_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(PersonalLine.contact_id, PersonalLine.text).where(
            PersonalLine.campaign_id == campaign_id
        )
    )
    return {contact_id: text for contact_id, text in rows.all()}


def audience_of(campaign: Campaign) -> AudienceIn:
    return AudienceIn(**(campaign.audience or {}))


def as_input(view: CampaignView) -> dict[str, Any]:
    """The campaign as the editor's form holds it."""
    c = view.campaign
    return {
        "name": c.name,
        "kind": c.kind,
        "sender_id": c.sender_id,
        "default_language": c.default_language,
        "variants": {k: {"subject": v.subject, "body": v.body} for k, v in view.variants.items()},
        "embargo": c.embargo,
        "custom_fields": dict(c.custom_fields),
        "audience": dict(c.audience),
        "scheduled_at": c.scheduled_at,
        "deadline_at": c.deadline_at,
    }
