"""Relationship health on a real database, on a fixed clock: the refresh scores every
contact from its timeline, the dashboard's numbers match a hand-computed newsroom, follow-ups
are suggested once, and another organisation sees none of it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, interactions, lists, privacy
from crm.beats import BeatIn, create_beat
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.errors import NotFound
from crm.health import dashboard, followups, store
from crm.health.dashboard import Filters
from crm.health.score import score
from crm.interactions import InteractionIn
from crm.models import (
    Campaign,
    Contact,
    ContactHealth,
    CoverageItem,
    Delivery,
    Event,
    FollowUp,
    InboundMessage,
    Interaction,
)
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from tests.conftest import World, login

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def _newsroom(session: AsyncSession, world: World) -> dict[str, int]:
    """Seven journalists whose states are plain from their timelines:

    - Arbën (Koha, Justice): answered all 3 pitches, covered the third; warm.
    - Milica (Koha): answered one pitch in August and met us; two pitches since unanswered;
      warm 30 days ago, cooling now.
    - Vesa (RTK, Justice): five pitches in four weeks, no answer; cold, over-pitched.
    - Besa (freelance): wrote to us 3 days ago; nobody answered; new.
    - Dritë (freelance): came to the conference 10 days ago; no coverage since; new.
    - Luan (RTK): answered three pitches and covered two, 65 days ago; still warm, untouched.
    - Gent (Koha): nothing yet; new.
    """
    org = world.editor.org_id
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha", medium="online"))
    rtk = await create_outlet(session, world.editor, OutletIn(name="RTK", medium="tv"))
    justice = await create_beat(session, world.editor, BeatIn(name="Drejtësia"))
    people = {
        "arben": ("Arbën", "Krasniqi", koha.id, [justice.id]),
        "milica": ("Milica", "Đorđević", koha.id, []),
        "vesa": ("Vesa", "Hoxha", rtk.id, [justice.id]),
        "besa": ("Besa", "Gashi", None, []),
        "drite": ("Dritë", "Berisha", None, []),
        "luan": ("Luan", "Morina", rtk.id, []),
        "gent": ("Gent", "Salihu", koha.id, []),
    }
    ids: dict[str, int] = {"koha": koha.id or 0, "rtk": rtk.id or 0, "justice": justice.id or 0}
    for key, (given, family, outlet, beat_ids) in people.items():
        roles = [RoleIn(outlet_id=outlet)] if outlet else []
        contact = await create_contact(
            session, world.editor,
            ContactIn(given_name=given, family_name=family, roles=roles, beat_ids=beat_ids),
        )  # fmt: skip
        ids[key] = contact.id or 0
    campaigns = [Campaign(org_id=org, name=f"Njoftimi {n}", status="finished") for n in range(6)]
    answer = Campaign(org_id=org, name="Re: Njoftimi 3", kind="answer", status="finished")
    event = Event(org_id=org, title="Konferenca", starts_at=ago(10), ends_at=ago(10), uid="k@x")
    session.add_all([*campaigns, answer, event])
    await session.flush()
    c = [x.id for x in campaigns]

    def pitch(who: str, days: float, n: int) -> Interaction:
        return Interaction(org_id=org, contact_id=ids[who], kind="email_out", direction="out",
                           occurred_at=ago(days), created_at=ago(days), campaign_id=c[n],
                           summary="Njoftim")  # fmt: skip

    def reply(who: str, days: float, n: int | None) -> Interaction:
        return Interaction(org_id=org, contact_id=ids[who], kind="email_in", direction="in",
                           occurred_at=ago(days), created_at=ago(days),
                           campaign_id=c[n] if n is not None else None,
                           summary="Përgjigje")  # fmt: skip

    def other(who: str, kind: str, days: float, **links: object) -> Interaction:
        return Interaction(
            org_id=org,
            contact_id=ids[who],
            kind=kind,
            direction="none",
            occurred_at=ago(days),
            created_at=ago(days),
            summary=kind,
            **links,
        )  # type: ignore[arg-type]

    session.add_all([
        pitch("arben", 80, 1), reply("arben", 79.5, 1), pitch("arben", 40, 2),
        reply("arben", 39.9, 2), pitch("arben", 10, 3), reply("arben", 9.9, 3),
        other("arben", "email_out", 9.8, campaign_id=answer.id),
        other("arben", "coverage", 8, campaign_id=c[3]),
        pitch("milica", 80, 1), reply("milica", 79, 1), other("milica", "coverage", 50),
        other("milica", "meeting", 45), pitch("milica", 10, 3), pitch("milica", 5, 4),
        *(pitch("vesa", d, n) for n, d in enumerate((28, 21, 14, 7, 2), start=1)),
        reply("besa", 3, None),
        other("drite", "event_attended", 10, event_id=event.id),
        pitch("luan", 70, 1), reply("luan", 69, 1), pitch("luan", 68, 2), reply("luan", 67.5, 2),
        pitch("luan", 66, 3), reply("luan", 65.5, 3), other("luan", "coverage", 66),
        other("luan", "coverage", 65), other("luan", "email_out", 65, campaign_id=answer.id),
        # Notes say nothing about the relationship.
        other("gent", "note", 1),
    ])  # fmt: skip
    # Another organisation's warm journalist: never in these numbers.
    theirs = await create_contact(
        session, world.outsider, ContactIn(given_name="Arbën", family_name="Krasniqi")
    )
    session.add_all(
        [
            Interaction(
                org_id=world.outsider.org_id,
                contact_id=theirs.id or 0,
                kind="meeting",
                direction="in",
                occurred_at=ago(d),
                created_at=ago(d),
                summary="x",
            )  # fmt: skip
            for d in (1, 5, 9)
        ]
    )
    await session.commit()
    return ids


async def test_the_dashboard_matches_the_hand_computed_newsroom(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    assert await store.refresh_all(session, NOW) == 8  # seven of ours, one of theirs
    board = await dashboard.dashboard(session, world.editor, Filters(period=90), TODAY)

    assert board.states == {"new": 3, "warm": 2, "cooling": 1, "cold": 1}  # Besa, Dritë: new
    assert board.states_before == {"new": 4, "warm": 3, "cooling": 0, "cold": 0}
    assert board.trend[-1] == board.states and len(board.trend) == 13
    assert [p.contact_id for p in board.going_cold] == [ids["milica"]]
    assert board.pitch_spread == {"0": 4, "1": 1, "2": 1, "3": 0, "4+": 1}
    assert [(p.contact_id, p.pitches, p.replies) for p in board.over_pitched] == [
        (ids["vesa"], 5, 0)
    ]
    assert [p.contact_id for p in board.awaiting] == [ids["besa"]]
    # Koha: Arbën 3 of 3, Milica 1 of 3; RTK: Vesa 0 of 5, Luan 3 of 3.
    assert [(r.name, r.pitches, r.replies, r.percent) for r in board.rate_by_outlet] == [
        ("RTK", 8, 3, 38), ("Koha", 6, 4, 67),
    ]  # fmt: skip
    assert [(r.name, r.pitches, r.replies) for r in board.rate_by_beat] == [("Drejtësia", 8, 3)]
    month = await dashboard.dashboard(session, world.editor, Filters(period=30), TODAY)
    assert [(r.name, r.pitches, r.replies) for r in month.rate_by_outlet] == [
        ("RTK", 5, 0), ("Koha", 3, 1),
    ]  # fmt: skip
    assert [(g, [p.contact_id for p in ps]) for g, ps in board.strongest_by_outlet] == [
        ("Koha", [ids["arben"]]), ("RTK", [ids["luan"]]),
    ]  # fmt: skip
    assert [(g, [p.contact_id for p in ps]) for g, ps in board.strongest_by_beat] == [
        ("Drejtësia", [ids["arben"]])
    ]

    # Follow-ups the timelines call for, due by today.
    due = {(r.item.contact_id, r.item.reason, r.item.due_on) for r in board.follow_ups}
    assert due == {
        (ids["besa"], "reply", date(2026, 11, 19)),
        (ids["drite"], "no_coverage", date(2026, 11, 17)),
        (ids["luan"], "untouched", TODAY),
    }
    assert board.follow_ups_total == 3

    # Filtered by beat: only Arbën and Vesa.
    justice = await dashboard.dashboard(
        session, world.editor, Filters(beat_id=ids["justice"]), TODAY
    )
    assert justice.states == {"new": 0, "warm": 1, "cooling": 0, "cold": 1}
    assert justice.follow_ups_total == 0
    # Another organisation sees only its own journalist.
    theirs = await dashboard.dashboard(session, world.outsider, Filters(), TODAY)
    assert theirs.total == 1 and theirs.follow_ups_total == 0


async def test_refresh_rescores_only_what_moved_and_suggests_once(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    await store.refresh_all(session, NOW)
    assert await store.refresh(session, NOW + timedelta(hours=1)) == 0  # nothing moved
    # Vesa answers at last.
    session.add(
        Interaction(
            org_id=world.editor.org_id,
            contact_id=ids["vesa"],
            kind="email_in",
            direction="in",
            occurred_at=NOW + timedelta(hours=1),
            summary="Po",
        )  # fmt: skip
    )
    vesa = await session.get(Contact, ids["vesa"])
    assert vesa is not None
    vesa.last_interaction_at = NOW + timedelta(hours=1)
    await session.commit()
    assert await store.refresh(session, NOW + timedelta(hours=2)) == 1
    row = await session.get(ContactHealth, ids["vesa"], populate_existing=True)
    assert row is not None and row.state != "cold" and row.awaiting_since is not None

    # Dismissed and done suggestions never come back, even when everyone is rescored.
    rows, _ = await followups.open_follow_ups(session, world.editor)
    by_reason = {r.item.reason: r.item for r in rows}
    await followups.settle(session, world.editor, by_reason["reply"].id or 0, "dismiss")
    await followups.settle(session, world.editor, by_reason["untouched"].id or 0, "done")
    assert await store.refresh_all(session, NOW + timedelta(days=3)) == 8
    causes = (await session.execute(select(FollowUp.cause))).scalars().all()
    assert len(causes) == len(set(causes))
    still_open, _ = await followups.open_follow_ups(session, world.editor)
    assert sorted((r.item.reason, r.item.contact_id) for r in still_open) == [
        ("no_coverage", ids["drite"]), ("reply", ids["vesa"]),
    ]  # fmt: skip


async def test_follow_ups_by_hand_snooze_and_done(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    token = await login(client, world.emails["editor"])
    path = f"/contacts/{ids['gent']}/follow-ups"
    empty = await client.post(path, data={"csrftoken": token, "title": "", "due_on": "2026-13-01"})
    assert empty.status_code == 422
    page = BeautifulSoup(empty.text, "html.parser")
    assert page.select_one("#follow-ups .field.invalid #fu-title") is not None
    assert page.select_one("#fu-due")["value"] == "2026-13-01"  # kept as typed
    made = await client.post(
        path, data={"csrftoken": token, "title": "Thirre për seancën", "due_on": "2026-11-25"}
    )
    assert made.status_code == 303
    page = BeautifulSoup((await client.get(f"/contacts/{ids['gent']}")).text, "html.parser")
    [item] = page.select("#follow-ups li.follow-up")
    assert "Thirre për seancën" in item.text
    follow_up_id = item.select_one("form")["action"].split("/")[2]
    snoozed = await client.post(
        f"/follow-ups/{follow_up_id}/snooze", data={"csrftoken": token, "days": "7"}
    )
    assert snoozed.status_code == 303
    row = await session.get(FollowUp, int(follow_up_id), populate_existing=True)
    assert row is not None and row.snoozed
    assert row.due_on == max(date.today(), date(2026, 11, 25)) + timedelta(days=7)
    bad = await client.post(
        f"/follow-ups/{follow_up_id}/snooze", data={"csrftoken": token, "days": "1000"}
    )
    assert bad.status_code == 422
    done = await client.post(
        f"/follow-ups/{follow_up_id}/done?back=/follow-ups", data={"csrftoken": token}
    )
    assert done.status_code == 303 and done.headers["location"] == "/follow-ups"
    page = BeautifulSoup((await client.get(f"/contacts/{ids['gent']}")).text, "html.parser")
    assert page.select("#follow-ups li.follow-up") == []
    # Elsewhere only its own site: a `back` to another host goes to the contact instead.
    api = await accounts.create_api_token(session, actor=world.outsider, name="t")
    theirs = await client.get("/api/v1/follow-ups", headers={"Authorization": f"Bearer {api}"})
    assert theirs.json()["total"] == 0


@pytest.mark.parametrize("period", ["30", "90", "365", "7", "abc"])
async def test_the_dashboard_page_renders_for_any_filter(
    client: httpx.AsyncClient, session: AsyncSession, world: World, period: str
) -> None:
    ids = await _newsroom(session, world)
    await store.refresh_all(session, datetime.now(UTC))
    await login(client, world.emails["viewer"])
    response = await client.get(f"/health?period={period}&outlet={ids['koha']}")
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("svg.trend") is not None
    assert page.select_one(".states .state-warm strong") is not None
    other = await client.get("/health?beat=999999&list=")
    assert other.status_code == 200
    missing = await client.get("/health?list=999999")
    assert missing.status_code == 404


async def test_follow_ups_and_health_join_the_export_and_leave_with_erasure(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await _newsroom(session, world)
    await store.refresh_all(session, NOW)
    data = await privacy.export_contact_data(session, world.editor, ids["besa"])
    assert [f["reason"] for f in data["follow_ups"]] == ["reply"]
    assert data["relationship_health"]["state"] == "new"
    await privacy.erase_contact(session, world.editor, settings, ids["besa"])
    left = await session.execute(select(FollowUp.id).where(FollowUp.contact_id == ids["besa"]))
    assert left.all() == []
    assert await session.get(ContactHealth, ids["besa"], populate_existing=True) is None


async def test_health_and_follow_ups_through_the_api(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    token = await accounts.create_api_token(session, actor=world.editor, name="t")
    client.headers["Authorization"] = f"Bearer {token}"
    health = (await client.get(f"/api/v1/contacts/{ids['vesa']}/health")).json()
    assert health["state"] == "cold" and health["last_two_way_at"] is None
    assert {"code": "never_answered", "n": 5, "of": 0, "days": 0, "names": []} in health["reasons"]
    due = date.today() + timedelta(days=30)
    body = {"contact_id": ids["vesa"], "title": "Ask what she needs", "due_on": due.isoformat()}
    made = await client.post("/api/v1/follow-ups", json=body)
    assert made.status_code == 201 and made.json()["state"] == "open"
    bad = await client.post("/api/v1/follow-ups", json={**body, "due_on": "1900-01-01"})
    assert bad.status_code == 422
    listed = (await client.get(f"/api/v1/follow-ups?contact_id={ids['vesa']}")).json()
    assert listed["total"] == 1 and listed["items"][0]["contact"] == "Vesa Hoxha"
    item = made.json()["id"]
    snoozed = await client.post(f"/api/v1/follow-ups/{item}/snooze?days=3")
    assert snoozed.json()["due_on"] == (due + timedelta(days=3)).isoformat()
    assert (await client.post(f"/api/v1/follow-ups/{item}/snooze?days=5")).status_code == 422
    assert (await client.post(f"/api/v1/follow-ups/{item}/done")).json()["state"] == "done"
    assert (await client.get("/api/v1/follow-ups")).json()["total"] == 0
    their = await accounts.create_api_token(session, actor=world.outsider, name="t")
    client.headers["Authorization"] = f"Bearer {their}"
    assert (await client.get(f"/api/v1/contacts/{ids['vesa']}/health")).status_code == 404
    assert (await client.post("/api/v1/follow-ups", json=body)).status_code == 404


async def test_the_dashboard_of_a_list_static_or_smart(session: AsyncSession, world: World) -> None:
    ids = await _newsroom(session, world)
    await store.refresh_all(session, NOW)
    static = await lists.create_list(session, world.editor, lists.ListIn(name="Kryesorët"))
    await lists.add_members(session, world.editor, static.id or 0, [ids["arben"], ids["gent"]])
    smart = await lists.create_list(
        session, world.editor,
        lists.ListIn(name="Koha", kind="smart", filter={"outlet_id": ids["koha"]}),
    )  # fmt: skip
    board = await dashboard.dashboard(session, world.editor, Filters(list_id=static.id), TODAY)
    assert board.states == {"new": 1, "warm": 1, "cooling": 0, "cold": 0}
    koha = await dashboard.dashboard(session, world.editor, Filters(list_id=smart.id), TODAY)
    assert koha.states == {"new": 1, "warm": 1, "cooling": 1, "cold": 0}  # Gent, Arbën, Milica
    assert [p.contact_id for p in koha.going_cold] == [ids["milica"]]
    with pytest.raises(NotFound):
        await dashboard.dashboard(session, world.outsider, Filters(list_id=static.id), TODAY)


async def test_what_the_timeline_says_is_no_relationship_is_left_out(
    session: AsyncSession, world: World
) -> None:
    """A bounced message, a partner's copy of a joint campaign, a spam complaint, a place
    moved up from a waitlist, negative coverage: none of them is a pitch or warmth."""
    org = world.editor.org_id
    contact = await create_contact(
        session, world.editor, ContactIn(given_name="Fjolla", family_name="Rama")
    )
    cid = contact.id or 0
    release = Campaign(org_id=org, name="Raporti", status="finished")
    theirs = Campaign(org_id=world.outsider.org_id, name="E përbashkët", status="finished")
    event = Event(org_id=org, title="Tryeza", starts_at=ago(5), ends_at=ago(5), uid="t@x")
    session.add_all([release, theirs, event])
    await session.flush()

    def delivery(campaign: Campaign, owner: int, **given: object) -> Delivery:
        return Delivery(
            campaign_id=campaign.id or 0,
            org_id=owner,
            contact_id=cid,
            address="f@x.example",
            address_norm="f@x.example",
            language="sq",
            message_id=f"<{campaign.id}.{owner}@x>",
            **given,
        )  # type: ignore[arg-type]

    bounced = delivery(release, org, status="sent", bounced_at=ago(9))
    partner = delivery(theirs, world.outsider.org_id, status="sent")
    complaint = InboundMessage(org_id=org, via="smtp", dedup_key="c" * 64, raw=b"x",
                               category="complaint")  # fmt: skip
    negative = CoverageItem(org_id=org, headline="Kritikë", published_on=ago(4).date(),
                            tone="negative")  # fmt: skip
    session.add_all([bounced, partner, complaint, negative])
    await session.flush()

    def entry(kind: str, days: float, direction: str = "none", **links: object) -> Interaction:
        return Interaction(
            org_id=org,
            contact_id=cid,
            kind=kind,
            direction=direction,
            occurred_at=ago(days),
            created_at=ago(days),
            summary=str(links.pop("summary", kind)),
            **links,
        )  # type: ignore[arg-type]

    session.add_all([
        entry("email_out", 10, "out", campaign_id=release.id, delivery_id=bounced.id),
        entry("email_out", 8, "out", campaign_id=theirs.id, delivery_id=partner.id),
        entry("email_in", 7, "in", campaign_id=release.id, inbound_message_id=complaint.id),
        entry("rsvp", 6, "in", event_id=event.id,
              summary="Moved from the waitlist to a seat at Tryeza"),
        entry("rsvp", 5, "in", event_id=event.id, summary="Declined the invitation to Tryeza"),
        entry("coverage", 4, coverage_id=negative.id),
    ])  # fmt: skip
    await session.commit()
    timeline = await store.contact_timeline(session, cid)
    assert [e.kind for e in timeline] == ["rsvp_declined", "coverage_negative"]
    health = score(timeline, NOW)
    assert health.state == "new" and health.last_two_way is None


async def test_a_late_entry_an_edit_or_a_deletion_is_rescored_and_an_answer_closes_the_task(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    now = datetime.now(UTC)  # entries logged through the app are written at the real time
    await store.refresh_all(session, now)
    later = now + timedelta(minutes=1)
    # The officer logs yesterday's call with Gent, and her answer to Besa's email.
    call = await interactions.log_interaction(
        session, world.editor, ids["gent"],
        InteractionIn(kind="call", direction="in", summary="Thirrje", occurred_at=ago(1)),
    )  # fmt: skip
    await interactions.log_interaction(
        session, world.editor, ids["besa"],
        InteractionIn(kind="email_out", direction="out", summary="Përgjigja", occurred_at=ago(0.5)),
    )  # fmt: skip
    assert await store.refresh(session, later) == 2
    gent = await session.get(ContactHealth, ids["gent"], populate_existing=True)
    assert gent is not None and gent.last_two_way_at is not None
    besa = await session.get(ContactHealth, ids["besa"], populate_existing=True)
    assert besa is not None and besa.awaiting_since is None
    reply_task = (
        await session.execute(select(FollowUp).where(FollowUp.contact_id == ids["besa"]))
    ).scalar_one()
    assert reply_task.state == "done"  # answered: the task closed itself
    # Deleting the call puts Gent back where he was, on the next refresh.
    await interactions.delete_interaction(session, world.editor, call.id or 0)
    assert await store.refresh(session, later + timedelta(minutes=10)) == 1
    gent = await session.get(ContactHealth, ids["gent"], populate_existing=True)
    assert gent is not None and gent.last_two_way_at is None and gent.state == "new"


async def test_a_contact_who_asks_not_to_be_contacted_gets_no_suggestions(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    now = datetime.now(UTC)
    await store.refresh_all(session, now)
    besa = await session.get(Contact, ids["besa"])
    assert besa is not None
    besa.do_not_contact = True
    session.add(besa)
    await session.commit()
    await store.mark_stale(session, [ids["besa"]])
    await session.commit()
    assert await store.refresh(session, now + timedelta(minutes=1)) == 1
    states = (
        (await session.execute(select(FollowUp.state).where(FollowUp.contact_id == ids["besa"])))
        .scalars()
        .all()
    )
    assert states == ["dismissed"]
