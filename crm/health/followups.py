"""Follow-ups: something to do about a contact by a date, written by hand or suggested by
the health refresh from the timeline:

- a reply not answered within REPLY_DAYS (no email of one's own, call or meeting since);
- an event attended with no coverage after NO_COVERAGE_DAYS;
- a warm contact untouched for UNTOUCHED_DAYS.

A suggestion names what prompted it (`cause`), so it comes once, whatever is done with it.
Done, snoozed (the due date moves on) or dismissed (a suggestion that does not apply)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import StringConstraints, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.accounts import Actor
from crm.bulk import insert_rows
from crm.contacts import get_contact
from crm.errors import InvalidInput, NotFound
from crm.health.score import Entry, tally
from crm.i18n import LOCAL_TZ, N_
from crm.models import Contact, FollowUp
from crm.models.base import DbId, Input

REPLY_DAYS = 2
NO_COVERAGE_DAYS = 7
UNTOUCHED_DAYS = 60
LOOK_BACK = timedelta(days=60)  # older causes are history, not a task (a first refresh)
REPLY_LOOK_BACK = timedelta(days=14)  # older replies were likely answered outside Beatbook
SNOOZE_DAYS = (1, 3, 7, 14)


class FollowUpIn(Input):
    contact_id: DbId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    due_on: date

    @field_validator("due_on")
    @classmethod
    def _sensible(cls, value: date) -> date:
        if not 2000 <= value.year <= 2100:
            raise ValueError(N_("Enter a date between 2000 and 2100."))
        return value


@dataclass
class Suggestion:
    contact_id: int
    org_id: int
    reason: str
    cause: str
    due_on: date
    title: str


def _local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def suggestions_for(
    contact_id: int, org_id: int, timeline: Sequence[Entry], state: str, now: datetime
) -> list[Suggestion]:
    """What the timeline asks the officer to do about one contact, as of `now`."""
    found: list[Suggestion] = []
    waiting = tally(timeline, now).awaiting
    if waiting is not None and now - REPLY_LOOK_BACK <= waiting.at <= now - timedelta(
        days=REPLY_DAYS
    ):
        day = _local_day(waiting.at)
        found.append(
            Suggestion(
                contact_id,
                org_id,
                "reply",
                f"reply:{waiting.ref}",
                day + timedelta(days=REPLY_DAYS),
                N_("Answer the reply of %(day)s", day=day.strftime("%d.%m.%Y")),
            )  # fmt: skip
        )
    past = [e for e in timeline if e.at <= now]
    for went in (e for e in past if e.kind == "event_attended"):
        if not now - LOOK_BACK <= went.at <= now - timedelta(days=NO_COVERAGE_DAYS):
            continue
        day = _local_day(went.at)  # coverage is dated by its day: the same evening counts
        if any(e.kind.startswith("coverage") and _local_day(e.at) >= day for e in past):
            continue
        found.append(
            Suggestion(
                contact_id,
                org_id,
                "no_coverage",
                f"attended:{went.ref}",
                _local_day(went.at) + timedelta(days=NO_COVERAGE_DAYS),
                N_("Attended %(event)s, no coverage since: ask about it", event=went.label or "—"),
            )  # fmt: skip
        )
    if state == "warm" and past and past[-1].at <= now - timedelta(days=UNTOUCHED_DAYS):
        last = _local_day(past[-1].at)
        found.append(
            Suggestion(
                contact_id,
                org_id,
                "untouched",
                f"untouched:{contact_id}:{last.isoformat()}",
                _local_day(now),
                N_(
                    "Warm, but untouched since %(day)s: get in touch", day=last.strftime("%d.%m.%Y")
                ),
            )  # fmt: skip
        )
    return found


async def suggest(
    session: AsyncSession,
    contacts: Sequence[tuple[int, int]],
    timelines: dict[int, list[Entry]],
    rows: Sequence[dict[str, Any]],
    now: datetime,
) -> int:
    """Add the follow-ups these contacts' timelines suggest and that were never suggested
    before, and close the "answer the reply" ones that were answered (the caller commits).
    Contacts who asked not to be contacted get none."""
    states = {row["contact_id"]: row["state"] for row in rows}
    waiting = [tally(timelines.get(cid, []), now).awaiting for cid, _ in contacts]
    current = [f"reply:{w.ref}" for w in waiting if w is not None]
    # A reply answered since (by email, call or meeting) closes its task.
    await session.execute(
        update(FollowUp)
        .where(
            FollowUp.contact_id.in_([cid for cid, _ in contacts]),  # type: ignore[attr-defined]
            FollowUp.reason == "reply",
            FollowUp.state == "open",
            FollowUp.cause.not_in(current),  # type: ignore[union-attr]
        )
        .values(state="done", done_at=now)
        .execution_options(synchronize_session=False)
    )
    quiet = set(
        (
            await session.execute(
                select(Contact.id).where(
                    Contact.id.in_([cid for cid, _ in contacts]),  # type: ignore[union-attr]
                    Contact.do_not_contact.is_(True),  # type: ignore[attr-defined]
                )
            )
        ).scalars()
    )
    if quiet:  # what was suggested before they asked not to be contacted no longer applies
        await session.execute(
            update(FollowUp)
            .where(
                FollowUp.contact_id.in_(quiet),  # type: ignore[attr-defined]
                FollowUp.reason != "",
                FollowUp.state == "open",
            )
            .values(state="dismissed", done_at=now)
            .execution_options(synchronize_session=False)
        )
    wanted = [
        s
        for cid, org in contacts
        if cid not in quiet
        for s in suggestions_for(cid, org, timelines.get(cid, []), states.get(cid, "new"), now)
    ]
    if not wanted:
        return 0
    known = set(
        (
            await session.execute(
                select(FollowUp.org_id, FollowUp.cause).where(
                    FollowUp.cause.in_([s.cause for s in wanted])  # type: ignore[union-attr]
                )
            )
        ).all()
    )
    untouched = set(
        (
            await session.execute(
                select(FollowUp.contact_id).where(
                    FollowUp.contact_id.in_([s.contact_id for s in wanted]),  # type: ignore[attr-defined]
                    FollowUp.reason == "untouched",
                    FollowUp.state == "open",
                )
            )
        ).scalars()
    )  # one "get in touch" at a time (two merged contacts may each have had one)
    new = [
        s
        for s in wanted
        if (s.org_id, s.cause) not in known
        and not (s.reason == "untouched" and s.contact_id in untouched)
    ]
    await insert_rows(
        session,
        FollowUp,
        [
            {"org_id": s.org_id, "contact_id": s.contact_id, "title": s.title,
             "due_on": s.due_on, "state": "open", "reason": s.reason, "cause": s.cause,
             "snoozed": False, "created_by_id": None, "created_at": now, "done_at": None}
            for s in new
        ],
    )  # fmt: skip
    return len(new)


# --- by hand ------------------------------------------------------------------------------


async def create_follow_up(session: AsyncSession, actor: Actor, data: FollowUpIn) -> FollowUp:
    actor.require_write()
    await get_contact(session, actor, data.contact_id)  # 404 for another's contact
    item = FollowUp(
        org_id=actor.org_id, contact_id=data.contact_id, title=data.title,
        due_on=data.due_on, created_by_id=actor.user_id,
    )  # fmt: skip
    session.add(item)
    await session.flush()
    # No title in the audit trail: it is about the contact, and leaves with their erasure.
    audit.record(session, org_id=actor.org_id, user_id=actor.user_id, action="create",
                 entity="follow_up", entity_id=item.id)  # fmt: skip
    await session.commit()
    return item


async def get_follow_up(session: AsyncSession, actor: Actor, follow_up_id: int) -> FollowUp:
    item = await session.get(FollowUp, follow_up_id)
    if item is None or item.org_id != actor.org_id:
        raise NotFound("follow_up")
    return item


async def settle(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: int,
    action: Literal["done", "dismiss", "reopen"],
) -> FollowUp:
    """Done, dismissed (a suggestion that does not apply) or open again."""
    actor.require_write()
    item = await get_follow_up(session, actor, follow_up_id)
    item.state = {"done": "done", "dismiss": "dismissed", "reopen": "open"}[action]
    item.done_at = datetime.now(UTC) if action != "reopen" else None
    session.add(item)
    audit.record(session, org_id=actor.org_id, user_id=actor.user_id, action=action,
                 entity="follow_up", entity_id=item.id)  # fmt: skip
    await session.commit()
    return item


async def snooze(
    session: AsyncSession, actor: Actor, follow_up_id: int, days: int, today: date
) -> FollowUp:
    """Due again `days` after today (or after its due date, if that is later)."""
    actor.require_write()
    if days not in SNOOZE_DAYS:
        raise InvalidInput({"days": N_("Snooze for 1, 3, 7 or 14 days.")})
    item = await get_follow_up(session, actor, follow_up_id)
    if item.state != "open":
        raise InvalidInput({"days": N_("Only an open follow-up can be snoozed.")})
    item.due_on = max(today, item.due_on) + timedelta(days=days)
    item.snoozed = True
    session.add(item)
    await session.commit()
    return item


# --- lists --------------------------------------------------------------------------------


@dataclass
class FollowUpRow:
    item: FollowUp
    name: str


async def open_follow_ups(
    session: AsyncSession,
    actor: Actor,
    *,
    until: date | None = None,
    contact_id: int | None = None,
    contact_ids: Any = None,
    limit: int = 200,
) -> tuple[list[FollowUpRow], int]:
    """Open follow-ups, soonest due first (those due by `until` only), and how many."""
    conds = [FollowUp.org_id == actor.org_id, FollowUp.state == "open"]
    if until is not None:
        conds.append(FollowUp.due_on <= until)
    if contact_id is not None:
        conds.append(FollowUp.contact_id == contact_id)
    if contact_ids is not None:
        conds.append(FollowUp.contact_id.in_(contact_ids))  # type: ignore[attr-defined]
    total = (await session.execute(select(func.count(FollowUp.id)).where(*conds))).scalar_one()
    rows = await session.execute(
        select(FollowUp, Contact.given_name, Contact.family_name)
        .join(Contact, Contact.id == FollowUp.contact_id)
        .where(*conds)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    return [FollowUpRow(f, f"{g} {fam}".strip()) for f, g, fam in rows.all()], int(total)
