"""Relationship health where it went wrong before: the order of out-of-date contacts, two
roles at one outlet, an arrival unticked, a reply task answered while a newer reply waits,
the dashboard board alone under HTMX."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import attendance, interactions
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.health import dashboard, store
from crm.health.dashboard import Filters
from crm.interactions import InteractionIn
from crm.models import Attendance, Campaign, ContactHealth, Event, FollowUp, Interaction
from crm.outlets import OutletIn, create_outlet
from tests.conftest import World, login
from tests.test_health import NOW, TODAY, _newsroom, ago


async def test_stale_contacts_never_scored_first_then_marked_then_moved(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    now = datetime.now(UTC)
    await store.refresh_all(session, now)
    assert await store.stale_contacts(session, now + timedelta(seconds=1), 10) == []
    new = await create_contact(session, world.editor, ContactIn(given_name="N", family_name="N"))
    await store.mark_stale(session, [ids["luan"]])
    await session.commit()
    await interactions.log_interaction(
        session, world.editor, ids["gent"],
        InteractionIn(kind="call", direction="in", summary="x", occurred_at=ago(400)),
    )  # fmt: skip
    got = await store.stale_contacts(session, datetime.now(UTC) + timedelta(seconds=1), 10)
    assert [cid for cid, _ in got] == [new.id, ids["luan"], ids["gent"]]


async def test_two_current_roles_at_one_outlet_count_once(
    session: AsyncSession, world: World
) -> None:
    org = world.editor.org_id
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    roles = [RoleIn(outlet_id=koha.id, title="Reporter"), RoleIn(outlet_id=koha.id, title="Editor")]
    c = await create_contact(
        session, world.editor, ContactIn(given_name="Arta", family_name="Dida", roles=roles)
    )
    camps = [Campaign(org_id=org, name=f"N{n}", status="finished") for n in range(4)]
    session.add_all(camps)
    await session.flush()
    for n, camp in enumerate(camps):
        for kind, direction, days in (("email_out", "out", 20 - n), ("email_in", "in", 19.9 - n)):
            session.add(Interaction(org_id=org, contact_id=c.id, kind=kind, direction=direction,
                                    occurred_at=ago(days), created_at=ago(days),
                                    campaign_id=camp.id, summary="x"))  # fmt: skip
    # Known to us for two months (no longer a new relationship).
    session.add(Interaction(org_id=org, contact_id=c.id, kind="meeting", direction="out",
                            occurred_at=ago(60), created_at=ago(60), summary="x"))  # fmt: skip
    await session.commit()
    await store.refresh_all(session, NOW)
    board = await dashboard.dashboard(session, world.editor, Filters(period=30), TODAY)
    assert [(r.name, r.pitches, r.replies) for r in board.rate_by_outlet] == [("Koha", 4, 4)]
    assert [(g, [p.contact_id for p in ps]) for g, ps in board.strongest_by_outlet] == [
        ("Koha", [c.id])
    ]


async def test_an_arrival_unticked_is_rescored(session: AsyncSession, world: World) -> None:

    org = world.editor.org_id
    c = await create_contact(session, world.editor, ContactIn(given_name="A", family_name="B"))
    now = datetime.now(UTC)
    event = Event(org_id=org, title="Tryeza", starts_at=now, ends_at=now, uid="u@x")
    session.add(event)
    await session.flush()
    guest = Attendance(event_id=event.id, org_id=org, contact_id=c.id, name="A B")
    session.add(guest)
    await session.commit()
    await attendance.check_in(session, world.editor, event.id or 0, guest.id or 0)
    await store.refresh_all(session, datetime.now(UTC) + timedelta(seconds=1))
    await attendance.check_in(session, world.editor, event.id or 0, guest.id or 0, arrived=False)
    assert await store.refresh(session, datetime.now(UTC) + timedelta(seconds=2)) == 1
    row = await session.get(ContactHealth, c.id, populate_existing=True)
    assert row is not None and row.last_two_way_at is None


async def test_an_answered_reply_task_closes_even_when_a_newer_reply_waits(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    org = world.editor.org_id
    await store.refresh_all(session, NOW)  # suggests "answer Besa's reply"
    for kind, direction, hours in (("call", "out", 1), ("email_in", "in", 2)):
        at = NOW + timedelta(hours=hours)
        session.add(
            Interaction(
                org_id=org,
                contact_id=ids["besa"],
                kind=kind,
                direction=direction,
                occurred_at=at,
                created_at=at,
                summary="x",
            )  # fmt: skip
        )
    await session.commit()
    await store.refresh(session, NOW + timedelta(hours=3))
    still = await session.execute(
        select(FollowUp.cause).where(FollowUp.contact_id == ids["besa"], FollowUp.state == "open")
    )
    assert still.scalars().all() == []


async def test_the_board_alone_renders_for_htmx_with_follow_ups_due(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _newsroom(session, world)
    await store.refresh_all(session, datetime.now(UTC))
    await login(client, world.emails["viewer"])
    response = await client.get("/health", headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="board"' in response.text
