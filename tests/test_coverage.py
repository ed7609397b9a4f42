"""Coverage items on a real database: logged by hand, on the byline contacts' timelines, the
same article once however its link was copied, a clipping file, another organisation's
items never visible; and the pages a PR officer uses to log and correct them."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, privacy
from crm.contacts import ContactIn, RoleIn, create_contact
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.models import Contact, CoverageItem, Interaction
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach.coverage import items
from outreach.coverage.items import CoverageIn
from tests.conftest import World, login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


async def _newsroom(session: AsyncSession, world: World) -> dict[str, int]:
    """Koha Ditore (koha.net) with two journalists, one of them Serbian-named."""
    koha = await create_outlet(
        session, world.editor,
        OutletIn(name="Koha Ditore", medium="online", website="https://www.koha.net",
                 languages=["sq"], reach=120_000),
    )  # fmt: skip
    arben = await create_contact(
        session, world.editor,
        ContactIn(given_name="Arbën", family_name="Krasniqi", emails=["arben@koha.net"],
                  roles=[RoleIn(outlet_id=koha.id)]),
    )  # fmt: skip
    milica = await create_contact(
        session, world.editor,
        ContactIn(given_name="Milica", family_name="Đorđević", emails=["milica@koha.net"],
                  roles=[RoleIn(outlet_id=koha.id)]),
    )  # fmt: skip
    assert koha.id and arben.id and milica.id
    return {"koha": koha.id, "arben": arben.id, "milica": milica.id}


def _item(ids: dict[str, int], **given: object) -> CoverageIn:
    values: dict[str, object] = {
        "url": "https://www.koha.net/arberi/412345/gjykatat-vonohen",
        "headline": "Gjykatat vonojnë, thotë raporti i Qendrës",
        "outlet_id": ids["koha"],
        "authors": ["Arbën Krasniqi"],
        "byline": [ids["arben"]],
        "published_on": date(2026, 11, 20),
        "tone": "positive",
        "language": "sq",
        "key_messages": ["Lëndët presin mesatarisht 3 vjet"],
    }
    values.update(given)
    return CoverageIn.model_validate(values)


async def _timeline(session: AsyncSession, contact_id: int) -> list[Interaction]:
    rows = await session.execute(
        select(Interaction)
        .where(Interaction.contact_id == contact_id, Interaction.kind == "coverage")
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_logged_coverage_is_on_each_byline_contacts_timeline(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(
        session, world.editor, _item(ids, byline=[ids["arben"], ids["milica"]])
    )
    for who in ("arben", "milica"):
        [entry] = await _timeline(session, ids[who])
        assert entry.coverage_id == item.id
        assert entry.summary == "Gjykatat vonojnë, thotë raporti i Qendrës — Koha Ditore"
        assert entry.occurred_at.date() == date(2026, 11, 20)
    contact = await session.get(Contact, ids["arben"], populate_existing=True)
    assert contact is not None and contact.last_interaction_at is not None

    # Corrected: Milica was not on the byline after all.
    await items.update_coverage(session, world.editor, item.id or 0, _item(ids))
    assert await _timeline(session, ids["milica"]) == []
    assert len(await _timeline(session, ids["arben"])) == 1

    await items.delete_coverage(session, world.editor, item.id or 0)
    assert await _timeline(session, ids["arben"]) == []


async def test_the_same_article_is_logged_once_however_the_link_was_copied(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    first = await items.create_coverage(session, world.editor, _item(ids))
    copies = (
        "http://koha.net/arberi/412345/gjykatat-vonohen/",
        "https://www.koha.net/arberi/412345/gjykatat-vonohen?utm_source=facebook&fbclid=x#top",
    )
    for url in copies:
        with pytest.raises(InvalidInput) as caught:
            await items.create_coverage(session, world.editor, _item(ids, url=url))
        assert caught.value.links == {"url": f"/coverage/{first.id}"}
        await session.rollback()
    # A different article on the same site is another item; so is print with no link.
    await items.create_coverage(session, world.editor, _item(ids, url=copies[0] + "2"))
    await items.create_coverage(session, world.editor, _item(ids, url="", medium="print"))
    await items.create_coverage(session, world.editor, _item(ids, url="", medium="tv"))
    rows, total = await items.list_coverage(session, world.editor)
    assert total == 4


async def test_logging_a_suggested_article_confirms_the_suggestion(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    data = _item(ids)
    suggestion = CoverageItem(
        org_id=world.editor.org_id, state="suggested", source="feed", url=data.url,
        url_key=items.url_key(data.url), headline="Gjykatat vonojnë",
        published_on=date(2026, 11, 20), matched=["Qendra për Drejtësi"],
    )  # fmt: skip
    session.add(suggestion)
    await session.commit()
    item = await items.create_coverage(session, world.editor, data)
    assert item.id == suggestion.id and item.state == "confirmed"
    assert len(await _timeline(session, ids["arben"])) == 1


async def test_a_dismissed_suggestion_stays_dismissed(session: AsyncSession, world: World) -> None:
    ids = await _newsroom(session, world)
    item = CoverageItem(
        org_id=world.editor.org_id, state="suggested", source="feed",
        url="https://www.koha.net/x", url_key=items.url_key("https://www.koha.net/x"),
        headline="Nuk është për ne", published_on=date(2026, 11, 21),
    )  # fmt: skip
    session.add(item)
    await session.commit()
    await items.dismiss_coverage(session, world.editor, item.id or 0)
    _, waiting = await items.list_coverage(session, world.editor, state="suggested")
    dismissed, _ = await items.list_coverage(session, world.editor, state="dismissed")
    assert waiting == 0 and [r.item.id for r in dismissed] == [item.id]
    assert ids  # the newsroom exists; the dismissed item is on nobody's timeline
    assert await _timeline(session, ids["arben"]) == []


async def test_another_organisations_coverage_and_contacts_are_out_of_reach(
    session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(session, world.editor, _item(ids))
    with pytest.raises(NotFound):
        await items.get_coverage(session, world.outsider, item.id or 0)
    _, total = await items.list_coverage(session, world.outsider)
    assert total == 0
    # Nor can the outsider put our journalist or outlet on its own item.
    with pytest.raises(InvalidInput) as caught:
        await items.create_coverage(session, world.outsider, _item(ids))
    assert set(caught.value.errors) == {"outlet_id", "byline"}
    with pytest.raises(PermissionDenied):
        await items.create_coverage(session, world.viewer, _item(ids))


async def test_a_clipping_is_a_pdf_or_an_image_within_the_limit(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(session, world.editor, _item(ids, url="", medium="print"))
    await items.set_clipping(
        session, world.editor, settings, item.id or 0, filename="../koha 21.11.pdf", data=PDF
    )
    stored, data = await items.clipping_of(session, world.editor, item.id or 0)
    assert data == PDF and stored.clipping_type == "application/pdf"
    assert stored.clipping_name == "koha 21.11.pdf"  # no path from the browser
    with pytest.raises(InvalidInput):  # an executable named like a PDF
        await items.set_clipping(
            session, world.editor, settings, item.id or 0, filename="x.pdf", data=b"MZ\x90\x00"
        )
    small = settings.model_copy(update={"clipping_max_bytes": 10})
    with pytest.raises(InvalidInput):
        await items.set_clipping(
            session, world.editor, small, item.id or 0, filename="x.pdf", data=PDF
        )
    with pytest.raises(NotFound):
        await items.clipping_of(session, world.outsider, item.id or 0)


async def test_coverage_joins_the_contacts_export_and_their_name_leaves_with_erasure(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(
        session, world.editor,
        _item(ids, authors=["Arbën Krasniqi", "Milica Đorđević"],
              byline=[ids["arben"], ids["milica"]]),
    )  # fmt: skip
    exported = await privacy.export_contact_data(session, world.editor, ids["arben"])
    assert [c["headline"] for c in exported["coverage"]] == [item.headline]
    await privacy.erase_contact(session, world.editor, settings, ids["arben"])
    kept = await session.get(CoverageItem, item.id, populate_existing=True)
    assert kept is not None and kept.authors == ["Milica Đorđević"]
    assert "krasniqi" not in kept.search_text


# --- pages -----------------------------------------------------------------------------------


def _page(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def test_an_officer_logs_print_coverage_by_hand_and_corrects_a_mistake(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    token = await login(client, world.emails["editor"])
    form = _page(await client.get("/coverage/new"))
    # The outlet's journalists are offered for the byline.
    assert form.select_one("#f-outlet") is not None
    missing = {
        "csrftoken": token, "headline": "  ", "outlet_id": str(ids["koha"]),
        "published_on": "2026-11-20", "medium": "print", "tone": "neutral",
        "notes": "Faqja 5, rreth gjysmë faqe", "byline_ids": str(ids["arben"]),
    }  # fmt: skip
    response = await client.post("/coverage", data=missing)
    assert response.status_code == 422
    page = _page(response)
    assert page.select_one(".field.invalid #f-headline") is not None
    assert page.select_one("#f-notes").text == "Faqja 5, rreth gjysmë faqe"  # nothing lost
    assert page.select_one(f"input[name=byline_ids][value='{ids['arben']}']").has_attr("checked")

    saved = await client.post("/coverage", data={**missing, "headline": "Raporti i Qendrës"})
    assert saved.status_code == 303
    detail = _page(await client.get(saved.headers["location"]))
    assert detail.select_one("h1").text == "Raporti i Qendrës"
    assert "Arbën Krasniqi" in detail.select_one("#byline").text
    contact = _page(await client.get(f"/contacts/{ids['arben']}"))
    link = contact.select_one("#timeline li.kind-coverage a")
    assert link is not None and link["href"] == saved.headers["location"]

    listing = _page(await client.get("/coverage?q=qendres"))  # without the diacritic
    assert [a.text for a in listing.select("#results td a")] == ["Raporti i Qendrës"]
    # Another organisation gets 404 for it.
    await login(client, world.emails["outsider"])
    assert (await client.get(saved.headers["location"])).status_code == 404


async def test_a_bad_date_or_link_is_a_clear_message_never_a_500(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _newsroom(session, world)
    token = await login(client, world.emails["editor"])
    for field, value in (("published_on", "21/11/2026"), ("url", "javascript:alert(1)"),
                         ("reach", "-5"), ("tone", "furious")):  # fmt: skip
        data = {"csrftoken": token, "headline": "H", "published_on": "2026-11-20", field: value}
        response = await client.post("/coverage", data=data)
        assert response.status_code == 422, field
        assert _page(response).select_one(".field.invalid, fieldset.invalid") is not None
    bad = await client.post("/coverage/fetch", data={"csrftoken": token, "url": "ftp://x"})
    assert bad.status_code == 200 and _page(bad).select_one(".draft-notes .error") is not None


async def test_coverage_through_the_api(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    token = await accounts.create_api_token(session, actor=world.editor, name="test")
    client.headers["Authorization"] = f"Bearer {token}"
    body = {
        "url": "https://www.koha.net/a/1", "headline": "Raporti", "outlet_id": ids["koha"],
        "byline": [ids["arben"]], "published_on": "2026-11-20", "tone": "neutral",
    }  # fmt: skip
    created = await client.post("/api/v1/coverage", json=body)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    again = await client.post("/api/v1/coverage", json={**body, "url": "http://koha.net/a/1/"})
    assert again.status_code == 422  # the same article
    bad = await client.post("/api/v1/coverage", json={**body, "tone": "furious"})
    assert bad.status_code == 422
    listed = await client.get("/api/v1/coverage")
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["outlet"] == "Koha Ditore"
    got = await client.get(f"/api/v1/coverage/{item_id}")
    assert got.json()["byline"] == [ids["arben"]]
    changed = await client.put(
        f"/api/v1/coverage/{item_id}", json={**body, "byline": [ids["milica"]], "reach": 5}
    )
    assert changed.status_code == 200 and changed.json()["reach"] == 5
    assert len(await _timeline(session, ids["milica"])) == 1
    assert await _timeline(session, ids["arben"]) == []
    # Reading a page without saving: a private address is refused with a clear error.
    read = await client.post("/api/v1/coverage/from-url", params={"url": "http://127.0.0.1/x"})
    assert read.status_code == 200 and read.json()["error"]
    assert (await client.delete(f"/api/v1/coverage/{item_id}")).status_code == 204
    assert (await client.get(f"/api/v1/coverage/{item_id}")).status_code == 404


async def test_a_clipping_is_uploaded_from_the_items_page(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(session, world.editor, _item(ids, url="", medium="print"))
    token = await login(client, world.emails["editor"])
    path = f"/coverage/{item.id}/clipping"
    files = {"clipping": ("koha-21-11.pdf", PDF, "application/pdf")}
    # Without the form's token (another site's form) nothing is stored.
    assert (await client.post(path, files=files)).status_code == 403
    sent = await client.post(path, data={"csrftoken": token}, files=files)
    assert sent.status_code == 303
    page = _page(await client.get(f"/coverage/{item.id}"))
    assert page.select_one("#clipping a").text == "koha-21-11.pdf"
    download = await client.get(path)
    assert download.content == PDF and download.headers["content-type"] == "application/pdf"
    fake = {"clipping": ("virus.pdf", b"MZ\x90\x00", "application/pdf")}
    refused = await client.post(path, data={"csrftoken": token}, files=fake)
    assert refused.status_code == 422 and "PDF, PNG, JPEG or WebP" in refused.text


async def test_reading_a_link_keeps_what_the_officer_typed(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await _newsroom(session, world)
    token = await login(client, world.emails["editor"])
    typed = {
        "csrftoken": token, "link": "https://127.0.0.1/private", "tone": "negative",
        "notes": "Thirrja e redaktores", "key_messages": "Mesazhi 1",
    }  # fmt: skip
    page = _page(await client.post("/coverage/fetch", data=typed))
    assert page.select_one(".draft-notes .error") is not None  # a private address, refused
    assert page.select_one("#f-notes").text == "Thirrja e redaktores"
    assert page.select_one("#f-key_messages").text == "Mesazhi 1"
    assert page.select_one("input[name=tone][value=negative]").has_attr("checked")
    assert page.select_one("#f-url")["value"] == "https://127.0.0.1/private"


async def test_odd_numbers_and_dates_are_refused_plainly(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    token = await accounts.create_api_token(session, actor=world.editor, name="test")
    headers = {"Authorization": f"Bearer {token}"}
    huge = 10**20
    for query in (f"offset={huge}", f"campaign_id={huge}", "limit=0", "state=all"):
        response = await client.get(f"/api/v1/coverage?{query}", headers=headers)
        assert response.status_code == 422, query
    body = {"headline": "H", "published_on": "2026-11-20", "outlet_id": huge}
    assert (await client.post("/api/v1/coverage", json=body, headers=headers)).status_code == 422
    body = {"headline": "H", "published_on": "2026-11-20", "byline": [ids["arben"], huge]}
    assert (await client.post("/api/v1/coverage", json=body, headers=headers)).status_code == 422
    await login(client, world.emails["editor"])
    far = await client.get("/coverage/report?since=9999-12-30&until=9999-12-31")
    assert far.status_code == 422
    assert (await client.get("/coverage/report?campaign_id=abc")).status_code == 404
    assert (await client.get("/coverage/report.csv?since=2026-13-01")).status_code == 422


async def test_erasure_finds_the_name_in_either_order(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await _newsroom(session, world)
    item = await items.create_coverage(
        session, world.editor, _item(ids, authors=["KRASNIQI Arbën"], byline=[ids["arben"]])
    )
    await privacy.erase_contact(session, world.editor, settings, ids["arben"])
    kept = await session.get(CoverageItem, item.id, populate_existing=True)
    assert kept is not None and kept.authors == [] and "krasniqi" not in kept.search_text
    assert "koha.net" in kept.search_text  # the address still finds it


async def test_choosing_the_outlet_offers_its_journalists_for_the_byline(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await _newsroom(session, world)
    await login(client, world.emails["editor"])
    htmx = {"HX-Request": "true"}
    found = await client.get(f"/coverage/byline?outlet_id={ids['koha']}", headers=htmx)
    names = [label.text.strip() for label in _page(found).select("#byline-choices label")]
    assert sorted(names) == ["Arbën Krasniqi", "Milica Đorđević"]
    # What was ticked stays ticked; another organisation's outlet offers nobody.
    kept = await client.get(
        f"/coverage/byline?outlet_id=999&byline_ids={ids['arben']}", headers=htmx
    )
    assert [i["value"] for i in _page(kept).select("input:checked")] == [str(ids["arben"])]
    await login(client, world.emails["outsider"])
    theirs = await client.get(f"/coverage/byline?outlet_id={ids['koha']}", headers=htmx)
    assert _page(theirs).select("#byline-choices label") == []
