"""Rules of contacts, outlets, beats, lists and the timeline, against a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm import beats, interactions, lists, outlets
from crm.contacts import (
    ContactFilter,
    ContactIn,
    RoleIn,
    contact_detail,
    create_contact,
    get_contact,
    search_contacts,
    update_contact,
)
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.outlets import OutletIn
from tests.conftest import World


async def _outlet(session: AsyncSession, world: World, name: str) -> int:
    outlet = await outlets.create_outlet(
        session, world.editor, OutletIn(name=name, medium="online", languages=["sq"])
    )
    return outlet.id or 0


async def test_renaming_an_outlet_updates_how_its_journalists_are_found(
    session: AsyncSession, world: World
) -> None:
    outlet_id = await _outlet(session, world, "Portali Zëri")
    await create_contact(
        session,
        world.editor,
        ContactIn(given_name="Blerta", roles=[RoleIn(outlet_id=outlet_id, title="Editor")]),
    )
    rows, _ = await search_contacts(session, world.editor, ContactFilter(q="zeri"))
    assert [r.contact.given_name for r in rows] == ["Blerta"]
    await outlets.update_outlet(
        session, world.editor, outlet_id, OutletIn(name="Zëri Online", medium="online")
    )
    rows, _ = await search_contacts(session, world.editor, ContactFilter(q="zeri online"))
    assert [r.outlets[0][1] for r in rows] == ["Zëri Online"]


async def test_outlet_names_are_unique_ignoring_case_and_diacritics(
    session: AsyncSession, world: World
) -> None:
    await _outlet(session, world, "Radio Kosova e Lirë")
    with pytest.raises(InvalidInput):
        await _outlet(session, world, "radio kosova e lire")
    # Another organisation keeps its own outlets.
    await outlets.create_outlet(
        session, world.outsider, OutletIn(name="Radio Kosova e Lirë", medium="radio")
    )


async def test_outlet_with_journalists_cannot_be_deleted(
    session: AsyncSession, world: World
) -> None:
    outlet_id = await _outlet(session, world, "Dita Sot")
    await create_contact(
        session, world.editor, ContactIn(given_name="Ilir", roles=[RoleIn(outlet_id=outlet_id)])
    )
    with pytest.raises(InvalidInput):
        await outlets.delete_outlet(session, world.editor, outlet_id)


async def test_past_roles_stay_on_the_profile_but_not_in_current_outlets(
    session: AsyncSession, world: World
) -> None:
    old = await _outlet(session, world, "Old Daily")
    new = await _outlet(session, world, "New Portal")
    contact = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name="Teuta",
            roles=[
                RoleIn(outlet_id=old, started_on=date(2019, 1, 1), ended_on=date(2024, 6, 30)),
                RoleIn(outlet_id=new, title="Freelance", started_on=date(2024, 7, 1)),
            ],
        ),
    )
    detail = await contact_detail(session, world.editor, contact.id or 0)
    assert [o.name for _, o in detail.roles] == ["New Portal", "Old Daily"]
    rows, _ = await search_contacts(session, world.editor, ContactFilter(outlet_id=old))
    assert rows == []
    with pytest.raises(ValueError):
        RoleIn(outlet_id=old, started_on=date(2024, 1, 2), ended_on=date(2023, 1, 1))


async def test_another_organisations_outlet_or_beat_cannot_be_attached(
    session: AsyncSession, world: World
) -> None:
    theirs = await outlets.create_outlet(
        session, world.outsider, OutletIn(name="Their Radio", medium="radio")
    )
    their_beat = await beats.create_beat(session, world.outsider, beats.BeatIn(name="Secret"))
    with pytest.raises(InvalidInput) as err:
        await create_contact(
            session,
            world.editor,
            ContactIn(
                given_name="X",
                roles=[RoleIn(outlet_id=theirs.id or 0)],
                beat_ids=[their_beat.id or 0],
            ),
        )
    assert set(err.value.errors) == {"roles", "beat_ids"}


async def test_timeline_is_newest_first_and_keeps_last_contact_date(
    session: AsyncSession, world: World
) -> None:
    contact = await create_contact(session, world.editor, ContactIn(given_name="Fatmir"))
    cid = contact.id or 0
    now = datetime.now(UTC)
    old = await interactions.log_interaction(
        session,
        world.editor,
        cid,
        InteractionIn(kind="meeting", summary="Coffee", occurred_at=now - timedelta(days=10)),
    )
    old_when = old.occurred_at
    recent = await interactions.log_interaction(
        session, world.editor, cid, InteractionIn(kind="call", summary="Follow-up call")
    )
    timeline = await interactions.timeline(session, world.editor, cid)
    assert [i.summary for i, _ in timeline] == ["Follow-up call", "Coffee"]
    assert timeline[0][1] == "editor@example.org"
    await interactions.delete_interaction(session, world.editor, recent.id or 0)
    session.expire_all()
    refreshed = await get_contact(session, world.editor, cid)
    assert refreshed.last_interaction_at == old_when
    with pytest.raises(NotFound):
        await interactions.timeline(session, world.outsider, cid)


async def test_smart_list_is_evaluated_when_used(session: AsyncSession, world: World) -> None:
    smart = await lists.create_list(
        session,
        world.editor,
        ListIn(name="Serbian speakers", kind="smart", filter={"language": "sr-Latn"}),
    )
    f = ContactFilter(list_id=smart.id)
    assert (await search_contacts(session, world.editor, f))[1] == 0
    await create_contact(
        session, world.editor, ContactIn(given_name="Nikola", preferred_language="sr-Latn")
    )
    await create_contact(
        session, world.editor, ContactIn(given_name="Ana", languages=["sq", "sr-Latn"])
    )
    await create_contact(session, world.editor, ContactIn(given_name="Besnik"))
    rows, total = await search_contacts(session, world.editor, f)
    assert total == 2 and {r.contact.given_name for r in rows} == {"Nikola", "Ana"}
    with pytest.raises(InvalidInput):
        await lists.add_members(session, world.editor, smart.id or 0, [rows[0].contact.id or 0])


async def test_static_list_members_from_a_search_and_removal(
    session: AsyncSession, world: World
) -> None:
    for name in ("Arta", "Arbër", "Drin"):
        await create_contact(session, world.editor, ContactIn(given_name=name))
    static = await lists.create_list(session, world.editor, ListIn(name="Ar-people"))
    sid = static.id or 0
    assert await lists.add_search_results(session, world.editor, sid, ContactFilter(q="ar")) == 2
    assert await lists.add_search_results(session, world.editor, sid, ContactFilter(q="ar")) == 0
    rows, _ = await search_contacts(session, world.editor, ContactFilter(list_id=sid))
    await lists.remove_member(session, world.editor, sid, rows[0].contact.id or 0)
    assert (await search_contacts(session, world.editor, ContactFilter(list_id=sid)))[1] == 1
    outsider_contact = await create_contact(session, world.outsider, ContactIn(given_name="Z"))
    with pytest.raises(NotFound):
        await lists.add_members(session, world.editor, sid, [outsider_contact.id or 0])


async def test_shared_beats_are_read_only_and_own_beats_are_editable(
    session: AsyncSession, world: World
) -> None:
    shared = (await beats.all_beats(session, world.editor))[0]
    with pytest.raises(PermissionDenied):
        await beats.rename_beat(session, world.editor, shared.id or 0, beats.BeatIn(name="Mine"))
    own = await beats.create_beat(session, world.editor, beats.BeatIn(name="Roma rights"))
    with pytest.raises(InvalidInput):
        await beats.create_beat(session, world.editor, beats.BeatIn(name="roma RIGHTS"))
    await beats.rename_beat(
        session, world.editor, own.id or 0, beats.BeatIn(name="Roma, Ashkali and Egyptian rights")
    )
    assert own.id not in {b.id for b in await beats.all_beats(session, world.outsider)}


async def test_viewer_and_outsider_cannot_change_a_contact(
    session: AsyncSession, world: World
) -> None:
    contact = await create_contact(session, world.editor, ContactIn(given_name="Mimoza"))
    with pytest.raises(PermissionDenied):
        await update_contact(session, world.viewer, contact.id or 0, ContactIn(given_name="M"))
    with pytest.raises(NotFound):
        await update_contact(session, world.outsider, contact.id or 0, ContactIn(given_name="M"))
    assert (await get_contact(session, world.editor, contact.id or 0)).given_name == "Mimoza"


def test_outlet_website_is_a_web_address() -> None:
    assert OutletIn(name="Koha", medium="print", website="www.koha.example").website == (
        "https://www.koha.example"
    )
    for bad in ("javascript:alert(1)//x", "ftp://koha.example", "https://"):
        with pytest.raises(ValueError):
            OutletIn(name="Koha", medium="print", website=bad)
