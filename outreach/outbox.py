"""The outbox: launching writes one delivery row per address in one transaction; the sender
worker (outreach/sender.py) works through the rows. Pause, resume, cancel, and the rows whose
fate is unknown, which a person resolves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, jobs
from crm.accounts import Actor
from crm.bulk import insert_rows
from crm.errors import Conflict, InvalidInput, NotFound
from crm.i18n import N_
from crm.models import Campaign, CampaignVariant, Delivery, Job, Organisation, SenderIdentity
from crm.settings import Settings
from outreach import audience, invitations, merge, mime
from outreach.campaigns import (
    audience_of,
    compile_variants,
    get_campaign,
    readable_campaign,
    require_draft,
    visible_deliveries,
)


@dataclass
class Check:
    """What the officer sees before confirming a launch."""

    campaign: Campaign
    plan: audience.Plan


async def compiled_for(session: AsyncSession, campaign: Campaign) -> dict:
    rows = await session.execute(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id)
    )
    variants = {v.language: v for v in rows.scalars()}
    if campaign.default_language not in variants:
        raise InvalidInput({"default_language": N_("Write the campaign in its default language.")})
    return compile_variants(campaign, variants)


async def check(session: AsyncSession, actor: Actor, settings: Settings, campaign_id: int) -> Check:
    """Every recipient, every exclusion with its reason, and the over-pitched, before launch."""
    campaign = await get_campaign(session, actor, campaign_id)
    compiled = await compiled_for(session, campaign)
    plan = await audience.plan(session, settings, campaign, compiled)
    if campaign.coalition_id:  # partners' contacts stay theirs
        holders = {r.org_id for r in plan.recipients} | {e.org_id or 0 for e in plan.excluded}
        partners = await _org_names(session, holders)
        plan = audience.as_seen_by(plan, actor.org_id, partners)
    return Check(campaign, plan)


async def _org_names(session: AsyncSession, org_ids: set[int]) -> dict[int, str]:
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
    )
    return dict(rows.all())  # type: ignore[arg-type]


async def sending_domain(session: AsyncSession, settings: Settings, campaign: Campaign) -> str:
    sender = await session.get(SenderIdentity, campaign.sender_id) if campaign.sender_id else None
    address = sender.from_address if sender else parseaddr(settings.mail_from)[1]
    return mime.sending_domain(address)


async def launch(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    campaign_id: int,
    *,
    expected: int | None = None,
) -> Campaign:
    """Write every delivery and start (or schedule) the campaign, all in one transaction.

    `expected` is the count the officer confirmed; if the audience changed since, nothing is
    launched. A second launch (a double click) finds the campaign no longer a draft."""
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    require_draft(campaign)
    now = datetime.now(UTC)
    if campaign.deadline_at and campaign.deadline_at <= now:
        raise InvalidInput({"deadline_at": N_("The send deadline has passed; set a later one.")})
    later = campaign.scheduled_at is not None and campaign.scheduled_at > now
    status = "scheduled" if later else "sending"
    event = await invitations.event_of(session, campaign)
    if event is not None and event.status == "cancelled" and not _tells_of_cancellation(campaign):
        raise Conflict(N_("The event is cancelled: only the cancellation to its guests can go."))
    plan = await audience.plan(session, settings, campaign, await compiled_for(session, campaign))
    domain = await sending_domain(session, settings, campaign)
    # The reading is done; the write that follows is short, so other writers (the sender,
    # the catcher, other pages) are not kept waiting on SQLite while a big audience resolves.
    await session.commit()
    claimed = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "draft")
        .values(status=status, launched_at=now, updated_at=now)
    )
    if claimed.rowcount != 1:  # a second click: the first launched it
        await session.rollback()
        raise Conflict(N_("This campaign has already been launched."))
    problem: InvalidInput | Conflict | None = None
    if not plan.recipients:
        problem = InvalidInput({"audience": N_("Nobody would receive this campaign.")})
    elif expected is not None and expected != len(plan.recipients):
        problem = Conflict(
            N_(
                "The audience changed since you checked it: it is now %(n)s recipients. "
                "Check it again before launching.",
                n=len(plan.recipients),
            )
        )
    if problem is not None:
        await session.rollback()
        raise problem
    if event is not None:
        await invitations.register_guests(session, settings, event, campaign, plan.recipients)
    await insert_rows(
        session, Delivery, [_row(campaign_id, r, domain, now) for r in plan.recipients]
    )
    if later:
        await jobs.enqueue(
            session, "campaign.start", {"campaign_id": campaign_id},
            org_id=campaign.org_id, run_at=campaign.scheduled_at,
        )  # fmt: skip
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="launch",
        entity="campaign", entity_id=campaign_id, changes={"recipients": len(plan.recipients)},
    )  # fmt: skip
    await session.commit()
    await session.refresh(campaign)
    return campaign


def _tells_of_cancellation(campaign: Campaign) -> bool:
    """An invitation to the event's invited guests (no one new): it carries the CANCEL."""
    wanted = audience_of(campaign)
    invited_only = not (wanted.lists or wanted.contacts or wanted.outlets)
    return campaign.kind == "invitation" and invited_only and "picked" not in wanted.guests


def _row(campaign_id: int, r: audience.Recipient, domain: str, now: datetime) -> dict:
    return {
        "campaign_id": campaign_id,
        "org_id": r.org_id,
        "contact_id": r.contact_id,
        "outlet_id": r.outlet_id,
        "address": r.address,
        "address_norm": r.norm,
        "name": r.name[:200],
        "language": r.language,
        "fields": r.fields,
        "personal_line": r.personal_line,
        "privacy_notice": r.privacy_notice,
        "is_test": False,
        "message_id": mime.new_message_id(domain),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "worker": "",
        "last_error": "",
        "created_at": now,
    }


@jobs.handler("campaign.start")
async def _start(session: AsyncSession, job: Job, settings: Settings) -> None:
    """A scheduled campaign's time has come."""
    await session.execute(
        update(Campaign)
        .where(Campaign.id == job.payload["campaign_id"], Campaign.status == "scheduled")
        .values(status="sending", updated_at=datetime.now(UTC))
    )


async def send_test(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    campaign_id: int,
    *,
    to: str,
    as_contact_id: int | None = None,
) -> Delivery:
    """Queue the message as one recipient would get it, to the officer's own address."""
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    compiled = await compiled_for(session, campaign)
    recipient = await preview_recipient(session, settings, campaign, compiled, as_contact_id)
    domain = await sending_domain(session, settings, campaign)
    row = _row(campaign_id, recipient, domain, datetime.now(UTC))
    row.update(is_test=True, address=to, address_norm=to.lower(), name="", contact_id=None)
    delivery = Delivery(**row)
    session.add(delivery)
    await session.commit()
    return delivery


async def preview_recipient(
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    compiled: dict,
    contact_id: int | None,
) -> audience.Recipient:
    """The recipient a preview shows: the chosen one, else the first of the audience."""
    plan = await audience.plan(session, settings, campaign, compiled)
    own = [r for r in plan.recipients if r.org_id == campaign.org_id]  # never a partner's
    if contact_id is not None:
        for r in own:
            if r.contact_id == contact_id:
                return r
        raise NotFound("recipient")
    if own:
        return own[0]
    fields = {k: f"[{k}]" for k in merge.STANDARD_FIELDS + merge.EVENT_FIELDS}
    return audience.Recipient(campaign.org_id, "", "", "", campaign.default_language, fields)


Action = Literal["pause", "resume", "cancel"]
_ACTION_WORDS = {"pause": N_("pause"), "resume": N_("resume"), "cancel": N_("cancel")}
_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("scheduled", "sending"), "paused"),
    "resume": (("paused",), "sending"),
    "cancel": (("draft", "scheduled", "sending", "paused"), "cancelled"),
}


async def change_state(
    session: AsyncSession, actor: Actor, campaign_id: int, action: Action
) -> Campaign:
    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    await session.refresh(campaign)  # the worker may have moved it on
    before, after = _MOVES[action]
    if campaign.status not in before:
        raise Conflict(
            N_(
                "A %(status)s campaign cannot be asked to %(action)s.",
                status=campaign.status,
                action=_ACTION_WORDS[action],
            )
        )
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": after, "updated_at": now}
    if action == "resume":
        values.update(consecutive_failures=0, paused_reason="")
        if campaign.scheduled_at and campaign.scheduled_at > now:
            values["status"] = "scheduled"
    if action == "cancel":
        values["finished_at"] = now
    # Conditional: a worker that paused or finished it meanwhile wins, and we say so.
    moved = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(before))
        .values(**values)
    )
    if moved.rowcount != 1:
        await session.rollback()
        raise Conflict(N_("The campaign changed meanwhile; look at it again."))
    if action == "cancel":
        await session.execute(
            update(Delivery)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_(("queued", "deferred")),
            )
            .values(status="cancelled", last_error=N_("Campaign cancelled."))
        )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action=action,
        entity="campaign", entity_id=campaign_id,
    )  # fmt: skip
    await session.commit()
    if action == "resume":  # nothing may be left to send (a pause in the last batch)
        from outreach.sender import finish_done

        await finish_done(session, {campaign_id})
    await session.refresh(campaign)
    return campaign


async def resolve_unknown(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    delivery_ids: list[int],
    outcome: Literal["sent", "resend", "failed"],
) -> int:
    """A person decides what happened to deliveries whose result was lost: it arrived
    (sent), send it again (with the same Message-ID, so a copy that did arrive is
    recognisable), or give it up (failed). "resend" also takes failed deliveries, for a
    retry once the cause is fixed."""
    from outreach.sender import finish_done, record_timeline

    actor.require_write()
    campaign = await get_campaign(session, actor, campaign_id)
    now = datetime.now(UTC)
    outcomes: dict[str, dict[str, Any]] = {
        "sent": {"status": "sent", "sent_at": now},
        "resend": {"status": "queued", "next_attempt_at": now, "last_error": "", "attempts": 0},
        "failed": {"status": "failed"},
    }
    states = ("unknown", "failed") if outcome == "resend" else ("unknown",)
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.id.in_(delivery_ids),
            Delivery.status.in_(states),
            Delivery.is_test.is_(False),
        )
        .values(**outcomes[outcome])
        .returning(Delivery.id)
    )
    changed = list(result.scalars())
    if outcome == "resend" and changed:  # a finished campaign has work again
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == "finished")
            .values(status="sending", finished_at=None)
        )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action=f"resolve_{outcome}",
        entity="campaign", entity_id=campaign_id, changes={"deliveries": changed[:100]},
    )  # fmt: skip
    if outcome == "sent" and changed:
        await record_timeline(session, changed)
    await session.commit()
    await finish_done(session, {campaign_id})
    return len(changed)


async def deliveries(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    *,
    status: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[Delivery]:
    """A campaign's recipients and their fate (a partner sees only the contacts it holds)."""
    campaign = await readable_campaign(session, actor, campaign_id)
    stmt = select(Delivery).where(*visible_deliveries(actor, campaign))
    if status:
        stmt = stmt.where(Delivery.status == status)
    stmt = stmt.order_by(Delivery.id).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())
