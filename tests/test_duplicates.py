"""Likely duplicates: the scoring the import uses, the duplicate finder, and merging two contacts
(domain functions, the pages and the API), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import accounts, duplicates, interactions, lists
from crm.accounts import Actor
from crm.beats import BeatIn, create_beat
from crm.contacts import ContactIn, contact_detail, create_contact, get_contact
from crm.duplicates import Candidate, likely_matches, name_similarity, outlet_similarity
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.models import AuditEntry, ContactEmail, ImportBatch, ImportRow, Interaction
from crm.outlets import OutletIn, create_outlet
from crm.search import normalise_email
from tests.conftest import World, login

# --- scoring ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Arben Krasniqi", "Arbën Krasniqi"),
        ("Đorđević", "Djordjevic"),
        ("Đorđević", "Dordevic"),
        ("Јовановић", "Jovanović"),
        ("Милица Јовановић", "Jovanović Milica"),
        ("Vjosa Këlmendi", "VJOSA KELMENDI"),
    ],
)
def test_names_written_differently_are_the_same(a: str, b: str) -> None:
    assert name_similarity(a, b) == 100


def test_small_spelling_differences_score_high_and_other_names_low() -> None:
    assert name_similarity("Arben Krasniqi", "Arben Krasniqui") >= 90
    assert name_similarity("Arben Krasniqi", "Driton Krasniqi") < 80
    assert name_similarity("Arben Krasniqi", "") == 0


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        ("Koha", "Koha Ditore", True),
        ("Koha Ditore", "Koha Ditorre", True),
        ("Zëri", "Zeri", True),
        ("RTK", "Radio Televizioni i Kosovës", True),
        ("RTK", "RTV", False),
        ("TV Klan", "TV Dukagjini", False),
        ("TV", "TV Klan", False),
        ("Koha", "", False),
    ],
)
def test_outlet_similarity(a: str, b: str, similar: bool) -> None:
    score = outlet_similarity(a, b)
    assert (score >= duplicates.SIMILAR_OUTLET) is similar, score
    if not similar:
        assert score < 70


# --- fixtures: a newsroom with look-alikes ---------------------------------------------------


async def _outlets(session: AsyncSession, actor: Actor, *names: str) -> dict[str, int]:
    found = {}
    for name in names:
        outlet = await create_outlet(session, actor, OutletIn(name=name, medium="online"))
        found[name] = outlet.id or 0
    return found


async def _contact(
    session: AsyncSession,
    actor: Actor,
    given: str,
    family: str,
    outlet: int | None = None,
    **kw: Any,
) -> int:
    roles = [{"outlet_id": outlet}] if outlet else []
    data = ContactIn.model_validate(
        {"given_name": given, "family_name": family, "roles": roles, **kw}
    )
    return (await create_contact(session, actor, data)).id or 0


async def _newsroom(session: AsyncSession, world: World) -> dict[str, int]:
    o = await _outlets(session, world.editor, "Koha Ditore", "RTK", "Kosovo Online", "KTV")
    return {
        "arben": await _contact(session, world.editor, "Arbën", "Krasniqi", o["Koha Ditore"]),
        "driton": await _contact(session, world.editor, "Driton", "Krasniqi", o["RTK"]),
        "dragan": await _contact(session, world.editor, "Dragan", "Đorđević", o["RTK"]),
        "milica": await _contact(session, world.editor, "Милица", "Јовановић", o["Kosovo Online"]),
        "vesna": await _contact(session, world.editor, "Vesna", "Petrović", o["KTV"]),
        **{f"outlet:{k}": v for k, v in o.items()},
    }


async def test_likely_matches_for_a_batch(session: AsyncSession, world: World) -> None:
    ids = await _newsroom(session, world)
    # The same names in another organisation are never matched.
    await _contact(session, world.outsider, "Besa", "Gashi")
    batch = [
        Candidate(2, "Arben", "Krasniqi", "Koha", ["arben@koha.example"]),
        Candidate(3, "Arben", "Krasniqi", "RTK", []),
        Candidate(4, "Dragan", "Djordjevic", "RTK", []),
        Candidate(5, "Dragan", "Dordevic", "", []),
        Candidate(6, "Milica", "Jovanović", "Kosovo Online", []),
        Candidate(7, "Vera", "Petrović", "KTV", []),  # another woman of the family
        Candidate(8, "Besa", "Gashi", "", []),
        Candidate(9, "Arben Krasniqi", "", "Koha Ditore", []),  # whole name in one column
    ]
    found = await likely_matches(session, world.editor.org_id, batch)
    assert {k: m.contact_id for k, m in found.items()} == {
        2: ids["arben"],
        4: ids["dragan"],
        5: ids["dragan"],
        6: ids["milica"],
        9: ids["arben"],
    }
    assert found[2].score >= 90
    assert "same name" in found[2].reason and "Koha ~ Koha Ditore" in found[2].reason
    assert "no outlet" in found[5].reason
    # Same name at a different outlet is weaker: below the import's threshold, with a reason.
    weaker = await likely_matches(session, world.editor.org_id, batch[1:2], threshold=70)
    assert weaker[3].contact_id == ids["arben"]
    assert 70 <= weaker[3].score < 85
    assert weaker[3].reason == "same name, different outlets (RTK, Koha Ditore)"
    assert await likely_matches(session, world.editor.org_id, []) == {}


# --- the finder ------------------------------------------------------------------------------


async def _add_email(
    session: AsyncSession, actor: Actor, contact_id: int, email: str, position: int = 0
) -> None:
    """An address a second contact already has: what an import with "create anyway" leaves."""
    session.add(
        ContactEmail(
            org_id=actor.org_id, contact_id=contact_id, email=email,
            normalised=normalise_email(email), is_primary=position == 0, position=position,
        )
    )  # fmt: skip
    await session.commit()


async def test_find_duplicates_finds_email_and_name_pairs(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    koha = ids["outlet:Koha Ditore"]
    twin = await _contact(session, world.editor, "Arben", "Krasniqui", koha)
    cyrillic = await _contact(session, world.editor, "Milica", "Jovanovic")
    shared = await _contact(session, world.editor, "Besa", "Gashi", emails=["besa@zeri.example"])
    other = await _contact(session, world.editor, "B.", "Gashi")
    await _add_email(session, world.editor, other, " BESA@zeri.example")
    await _contact(session, world.outsider, "Arben", "Krasniqi")

    pairs, total = await duplicates.find_duplicates(session, world.viewer)
    by_ids = {(p.a_id, p.b_id): p for p in pairs}
    assert total == len(pairs) == 3, [(p.a, p.b, p.reasons) for p in pairs]
    assert by_ids[(shared, other)].score == 100
    assert "same email" in by_ids[(shared, other)].reasons[0]
    assert by_ids[(ids["arben"], twin)].score >= 85
    assert by_ids[(ids["milica"], cyrillic)].reasons == ["same name", "no outlet to compare"]
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    first = by_ids[(ids["arben"], twin)]
    assert first.a is not None and first.a.outlets == ["Koha Ditore"]
    page, total = await duplicates.find_duplicates(session, world.viewer, limit=1, offset=1)
    assert total == 3 and len(page) == 1 and page[0] == pairs[1]
    outsider_pairs, _ = await duplicates.find_duplicates(session, world.outsider)
    assert outsider_pairs == []


# --- merging ---------------------------------------------------------------------------------


async def _pair_to_merge(session: AsyncSession, world: World) -> dict[str, int]:
    """Two records of Arbën Krasniqi, each with its own history."""
    editor = world.editor
    o = await _outlets(session, editor, "Koha Ditore", "Radio Drita")
    beat = await create_beat(session, editor, BeatIn(name="Water rights"))
    keep = await _contact(
        session, editor, "Arben", "Krasniqi", o["Koha Ditore"],
        emails=["arben@koha.example"], phones=["+383 44 111 222"], tags=["key-contact"],
        notes="Prefers calls in the morning.", languages=["sq"], social={"x": "@arben"},
        beat_ids=[1],
    )  # fmt: skip
    other = await _contact(
        session, editor, "Arbën", "Krasniqi", o["Radio Drita"],
        emails=["a.krasniqi@drita.example"], phones=["+38344111222",
        "049 555 666"], tags=["key-contact", "radio"], notes="Covers water.",
        languages=["en"], social={"x": "@arben_drita", "linkedin": "arbenk"},
        beat_ids=[1, beat.id], city="Prizren", do_not_contact=True,
        do_not_contact_reason="Asked not to be mailed",
    )  # fmt: skip
    await _add_email(session, editor, other, "ARBEN@koha.example ", position=1)
    for contact_id, summary in ((keep, "Call about the report"), (other, "Radio interview")):
        await interactions.log_interaction(
            session, editor, contact_id, InteractionIn(kind="call", summary=summary)
        )
    both = await lists.create_list(session, editor, ListIn(name="Press conference"))
    radio = await lists.create_list(session, editor, ListIn(name="Radio people"))
    await lists.add_members(session, editor, both.id or 0, [keep, other])
    await lists.add_members(session, editor, radio.id or 0, [other])
    batch = ImportBatch(org_id=editor.org_id, filename="old.csv", file_format="csv")
    session.add(batch)
    await session.flush()
    session.add(ImportRow(batch_id=batch.id or 0, row_number=2, outcome="imported",
                          contact_id=other, similar_contact_id=keep))  # fmt: skip
    await session.commit()
    return {"keep": keep, "other": other, "both": both.id or 0, "radio": radio.id or 0}


async def test_merge_keeps_everything_of_both(session: AsyncSession, world: World) -> None:
    ids = await _pair_to_merge(session, world)
    keep, other = ids["keep"], ids["other"]
    merged = await duplicates.merge_contacts(
        session, world.editor, keep, other, {"given_name": "other", "family_name": "keep"}
    )
    assert merged.full_name == "Arbën Krasniqi"
    d = await contact_detail(session, world.viewer, keep)
    c = d.contact
    assert [e.email for e in d.emails] == ["arben@koha.example", "a.krasniqi@drita.example"]
    assert [e.is_primary for e in d.emails] == [True, False]
    assert c.phones == ["+383 44 111 222", "049 555 666"]
    assert sorted(o.name for _, o in d.roles) == ["Koha Ditore", "Radio Drita"]
    assert len(d.beats) == 2
    assert d.tags == ["key-contact", "radio"]
    assert sorted(lst.name for lst in d.lists) == ["Press conference", "Radio people"]
    assert "Prefers calls in the morning." in c.notes and "Covers water." in c.notes
    assert "@arben_drita" in c.notes  # the other x handle is not dropped
    assert c.social == {"x": "@arben", "linkedin": "arbenk"}
    assert c.languages == ["sq", "en"]
    assert c.city == "Prizren"  # empty on the kept contact, so the other's value
    assert c.do_not_contact and c.do_not_contact_reason == "Asked not to be mailed"
    assert "krasniqi" in c.search_text and "drita" in c.search_text
    timeline = [i.summary for i, _ in await interactions.timeline(session, world.viewer, keep)]
    assert sorted(timeline) == ["Call about the report", "Merged with Arbën Krasniqi",
                                "Radio interview"]  # fmt: skip
    kinds = await session.execute(select(Interaction.kind).where(Interaction.contact_id == keep))
    assert "merge" in set(kinds.scalars())
    with pytest.raises(NotFound):
        await get_contact(session, world.editor, other)
    row = (await session.execute(select(ImportRow))).scalar_one()
    assert row.contact_id == keep and row.similar_contact_id == keep
    entry = (
        await session.execute(select(AuditEntry).where(AuditEntry.action == "merge"))
    ).scalar_one()
    assert entry.entity_id == keep
    assert entry.changes["merged_id"] == other and entry.changes["kept_id"] == keep
    assert entry.changes["choices"]["given_name"] == "other"
    pairs, _ = await duplicates.find_duplicates(session, world.editor)
    assert pairs == []


async def test_merge_refuses_other_organisations_viewers_and_bad_input(
    session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    keep, other = ids["keep"], ids["other"]
    stranger = await _contact(session, world.outsider, "Arben", "Krasniqi")
    with pytest.raises(NotFound):
        await duplicates.merge_contacts(session, world.editor, keep, stranger, {})
    with pytest.raises(NotFound):
        await duplicates.merge_contacts(session, world.outsider, stranger, keep, {})
    with pytest.raises(PermissionDenied):
        await duplicates.merge_contacts(session, world.viewer, keep, other, {})
    with pytest.raises(InvalidInput):
        await duplicates.merge_contacts(session, world.editor, keep, keep, {})
    with pytest.raises(InvalidInput) as bad:
        await duplicates.merge_contacts(session, world.editor, keep, other, {"emails": "other"})
    assert "choices.emails" in bad.value.errors
    with pytest.raises(InvalidInput):
        await duplicates.merge_contacts(session, world.editor, keep, other, {"city": "both"})
    assert (await get_contact(session, world.editor, other)).city == "Prizren"


async def test_a_failed_merge_leaves_both_contacts_as_they_were(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _pair_to_merge(session, world)

    async def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(duplicates, "refresh_search_text", broken)
    with pytest.raises(RuntimeError):
        await duplicates.merge_contacts(session, world.editor, ids["keep"], ids["other"], {})
    async with maker() as fresh:
        for key, emails in (("keep", 1), ("other", 2)):
            d = await contact_detail(fresh, world.viewer, ids[key])
            assert len(d.emails) == emails
            assert len(await interactions.timeline(fresh, world.viewer, ids[key])) == 1
        assert not (await contact_detail(fresh, world.viewer, ids["keep"])).contact.do_not_contact


# --- pages -----------------------------------------------------------------------------------


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def test_duplicates_page_lists_pairs_with_a_compare_link(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    await login(client, world.emails["viewer"])
    page = await client.get("/duplicates")
    assert page.status_code == 200
    rows = html(page).select("table.duplicates tbody tr")
    assert len(rows) == 1
    assert "same name" in rows[0].select_one("td.reasons").get_text()
    link = rows[0].select_one("a.button")
    assert link["href"] == f"/duplicates/merge?keep={ids['keep']}&other={ids['other']}"
    fragment = await client.get("/duplicates", headers={"HX-Request": "true"})
    assert html(fragment).select_one("html") is None
    assert html(fragment).select_one("section#results") is not None


async def test_merge_through_the_page(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    keep, other = ids["keep"], ids["other"]
    await login(client, world.emails["editor"])
    page = await client.get(f"/duplicates/merge?keep={keep}&other={other}")
    assert page.status_code == 200
    soup = html(page)
    form = soup.select_one("form#merge-form")
    for radio in form.select("input[type=radio]"):
        label = radio.find_parent("label")
        assert label is not None and label.get_text(strip=True)
    given = form.select("#field-given_name input[type=radio]")
    assert [r["value"] for r in given] == ["keep", "other"]
    # The city is empty on the kept contact: the other's is chosen by default.
    assert form.select_one("#field-city input[value=other]").has_attr("checked")
    assert form.select_one("#field-family_name input[type=radio]") is None  # the same on both
    combined = soup.select_one("#combined").get_text()
    assert "a.krasniqi@drita.example" in combined and "Radio people" in combined
    assert "do not contact" in combined
    data = {
        "csrftoken": form.select_one("input[name=csrftoken]")["value"],
        "keep": str(keep),
        "other": str(other),
        "choice_given_name": "other",
        "choice_city": "keep",
    }
    done = await client.post("/duplicates/merge", data=data)
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/contacts/{keep}")
    profile = html(await client.get(done.headers["location"]))
    assert profile.select_one("h1").get_text(strip=True).startswith("Arbën Krasniqi")
    assert "Merged with Arbën Krasniqi" in profile.select_one("#timeline").get_text()
    assert (await client.get(f"/contacts/{other}")).status_code == 404
    again = await client.post("/duplicates/merge", data=data)
    assert again.status_code == 404


async def test_viewer_sees_the_comparison_without_a_merge_button(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    csrf = await login(client, world.emails["viewer"])
    page = await client.get(f"/duplicates/merge?keep={ids['keep']}&other={ids['other']}")
    assert page.status_code == 200
    assert html(page).select_one("form#merge-form button[type=submit]") is None
    refused = await client.post(
        "/duplicates/merge",
        data={"csrftoken": csrf, "keep": ids["keep"], "other": ids["other"]},
    )
    assert refused.status_code == 403
    assert (await client.get(f"/contacts/{ids['other']}")).status_code == 200


async def test_merge_page_answers_bad_and_foreign_ids_cleanly(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    stranger = await _contact(session, world.outsider, "Arben", "Krasniqi")
    csrf = await login(client, world.emails["editor"])
    assert (
        await client.get(f"/duplicates/merge?keep={ids['keep']}&other={stranger}")
    ).status_code == 404
    assert (await client.get(f"/duplicates/merge?keep={ids['keep']}")).status_code == 422
    assert (await client.get("/duplicates/merge?keep=x&other=99999999999")).status_code == 422
    same = await client.get(f"/duplicates/merge?keep={ids['keep']}&other={ids['keep']}")
    assert same.status_code == 422
    foreign = await client.post(
        "/duplicates/merge", data={"csrftoken": csrf, "keep": ids["keep"], "other": stranger}
    )
    assert foreign.status_code == 404
    bad = await client.post(
        "/duplicates/merge",
        data={"csrftoken": csrf, "keep": ids["keep"], "other": ids["other"],
              "choice_city": "both"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert html(bad).select_one("form#merge-form") is not None
    assert (await client.get(f"/contacts/{ids['other']}")).status_code == 200


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
async def api(client: httpx.AsyncClient, session: AsyncSession, world: World) -> httpx.AsyncClient:
    token = await accounts.create_api_token(session, actor=world.editor, name="test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def test_duplicates_and_merge_through_the_api(
    api: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    keep, other = ids["keep"], ids["other"]
    listed = await api.get("/api/v1/duplicates", params={"limit": 10})
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1
    assert body["items"][0]["a_id"] == keep and body["items"][0]["b_id"] == other
    assert body["items"][0]["a"]["emails"] == ["arben@koha.example"]
    assert (await api.get("/api/v1/duplicates", params={"limit": 0})).status_code == 422

    bad = await api.post(
        f"/api/v1/contacts/{keep}/merge",
        json={"other_id": other, "choices": {"emails": "other", "city": "both"}},
    )
    assert bad.status_code == 422
    assert (await api.post(f"/api/v1/contacts/{keep}/merge", json={})).status_code == 422
    itself = await api.post(f"/api/v1/contacts/{keep}/merge", json={"other_id": keep})
    assert itself.status_code == 422
    assert itself.json()["detail"][0]["loc"] == ["body", "other_id"]

    merged = await api.post(
        f"/api/v1/contacts/{keep}/merge",
        json={"other_id": other, "choices": {"given_name": "other"}},
    )
    assert merged.status_code == 200, merged.text
    contact = merged.json()
    assert contact["id"] == keep and contact["given_name"] == "Arbën"
    assert contact["emails"] == ["arben@koha.example", "a.krasniqi@drita.example"]
    assert contact["do_not_contact"] is True
    assert sorted(r["outlet_name"] for r in contact["roles"]) == ["Koha Ditore", "Radio Drita"]
    assert contact == (await api.get(f"/api/v1/contacts/{keep}")).json()
    assert (await api.get(f"/api/v1/contacts/{other}")).status_code == 404


async def test_api_merge_refuses_outsiders_and_viewers(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _pair_to_merge(session, world)
    for actor, status in ((world.outsider, 404), (world.viewer, 403)):
        token = await accounts.create_api_token(session, actor=actor, name="t")
        response = await client.post(
            f"/api/v1/contacts/{ids['keep']}/merge",
            json={"other_id": ids["other"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status
    # Another organisation's contact is not found whatever the body says.
    token = await accounts.create_api_token(session, actor=world.outsider, name="t2")
    odd = await client.post(
        f"/api/v1/contacts/{ids['keep']}/merge",
        json={"given_name": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert odd.status_code == 404
    assert (await get_contact(session, world.editor, ids["other"])).id == ids["other"]
