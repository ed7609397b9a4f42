"""Exports: CSV for Excel and vCards, of a search, a filter or a list, in one organisation only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm import accounts, exports, lists
from crm.beats import all_beats
from crm.contacts import ContactFilter, ContactIn, create_contact
from crm.errors import NotFound
from crm.lists import ListIn
from crm.outlets import OutletIn, create_outlet
from crm.vcards import export_vcards, parse_vcards
from tests.conftest import World, login


@dataclass
class Seeded:
    arben: int
    djordje: int
    trick: int
    static_list: int
    smart_list: int
    other_list: int


async def seed(session: AsyncSession, world: World) -> Seeded:
    koha = await create_outlet(session, world.editor, OutletIn(name="Koha Ditore", medium="print"))
    kanal = await create_outlet(session, world.editor, OutletIn(name="Kanal 10", medium="tv"))
    beat = next(b for b in await all_beats(session, world.editor) if b.org_id is None)
    arben = await create_contact(
        session,
        world.editor,
        ContactIn.model_validate(
            {
                "given_name": "Arbën",
                "family_name": "Krasniqi",
                "emails": ["arben@koha.example", "arben.k@mail.example"],
                "phones": ["+383 44 123 456", "038 222 111"],
                "roles": [
                    {"outlet_id": koha.id, "title": "Gazetar"},
                    {"outlet_id": kanal.id, "title": ""},
                ],
                "beat_ids": [beat.id],
                "tags": ["investigative", "key"],
                "languages": ["sq", "en"],
                "social": {"x": "@arbenk"},
                "city": "Prishtinë",
                "notes": "Takon në kafe, para orës 10.",
            }
        ),
    )
    djordje = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name="Ђорђе",
            family_name="Јовановић",
            emails=["djordje@kontakt.example"],
            preferred_language="sr-Cyrl",
            do_not_contact=True,
            do_not_contact_reason="Asked us to stop",
        ),
    )
    trick = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name='=HYPERLINK("http://evil.example")',
            family_name="@SUM(A1)",
            phones=["+1 555 0100"],
            notes="\t=1+1",
            region="-2+3",
        ),
    )
    static = await lists.create_list(session, world.editor, ListIn(name="Radio people"))
    await lists.add_members(session, world.editor, static.id or 0, [djordje.id or 0])
    smart = await lists.create_list(
        session,
        world.editor,
        ListIn(name="Key contacts", kind="smart", filter={"tag": "key"}),
    )
    await create_contact(
        session,
        world.outsider,
        ContactIn(given_name="Secret", family_name="Outsider", emails=["secret@other.example"]),
    )
    other = await lists.create_list(session, world.outsider, ListIn(name="Theirs"))
    return Seeded(
        arben.id or 0, djordje.id or 0, trick.id or 0, static.id or 0, smart.id or 0, other.id or 0
    )


async def csv_text(session: AsyncSession, actor: Any, f: ContactFilter) -> str:
    return "".join([piece async for piece in exports.contacts_csv(session, actor, f)])


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


# --- domain ------------------------------------------------------------------------------------


async def test_csv_starts_with_a_bom_and_has_a_row_per_contact_in_name_order(
    session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    rows = rows_of(await csv_text(session, world.viewer, ContactFilter()))
    # By name, whatever the script: Јовановић sorts as Jovanović.
    assert [r["Family name"] for r in rows] == ["'@SUM(A1)", "Јовановић", "Krasniqi"]
    arben = rows[2]
    assert arben["Given name"] == "Arbën"
    assert arben["Emails"] == "arben@koha.example; arben.k@mail.example"
    assert arben["Phones"] == "'+383 44 123 456; 038 222 111"
    assert arben["Outlet"] == "Koha Ditore" and arben["Title"] == "Gazetar"
    assert arben["Other outlets"] == "Kanal 10"
    assert arben["Tags"] == "investigative; key"
    assert arben["Beats"] != ""
    assert arben["Languages"] == "sq; en"
    assert arben["X"] == "'@arbenk"  # a handle starts like a formula too
    assert arben["City"] == "Prishtinë"
    assert arben["Notes"] == "Takon në kafe, para orës 10."
    assert arben["Do not contact"] == ""


async def test_csv_cells_that_start_like_formulas_are_prefixed_with_a_quote(
    session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    [trick] = rows_of(await csv_text(session, world.owner, ContactFilter(q="sum")))
    assert trick["Given name"] == '\'=HYPERLINK("http://evil.example")'
    assert trick["Family name"] == "'@SUM(A1)"
    assert trick["Phones"] == "'+1 555 0100"
    assert trick["Region"] == "'-2+3"
    assert trick["Notes"] == "'\t=1+1"
    assert trick["Emails"] == ""
    for start in "=+-@\t\r":
        assert exports.safe_cell(f"{start}x") == f"'{start}x"
    assert exports.safe_cell("Koha Ditore") == "Koha Ditore"


async def test_csv_keeps_do_not_contact_visible(session: AsyncSession, world: World) -> None:
    ids = await seed(session, world)
    [djordje] = rows_of(
        await csv_text(session, world.owner, ContactFilter(list_id=ids.static_list))
    )
    assert djordje["Do not contact"] == "yes"
    assert djordje["Do not contact reason"] == "Asked us to stop"
    assert djordje["Preferred language"] == "sr-Cyrl"


async def test_exports_honour_search_filters_and_static_and_smart_lists(
    session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)

    async def names(f: ContactFilter) -> list[str]:
        return [r["Given name"] for r in rows_of(await csv_text(session, world.owner, f))]

    assert await names(ContactFilter(q="krasniqi")) == ["Arbën"]
    assert await names(ContactFilter(tag="investigative")) == ["Arbën"]
    assert await names(ContactFilter(do_not_contact=True)) == ["Ђорђе"]
    assert await names(ContactFilter(list_id=ids.static_list)) == ["Ђорђе"]
    assert await names(ContactFilter(list_id=ids.smart_list)) == ["Arbën"]
    assert await names(ContactFilter(q="nobody")) == []


async def test_another_organisations_contacts_and_lists_never_appear(
    session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    text = await csv_text(session, world.owner, ContactFilter())
    assert "Secret" not in text and "secret@other.example" not in text
    with pytest.raises(NotFound):
        await csv_text(session, world.owner, ContactFilter(list_id=ids.other_list))
    with pytest.raises(NotFound):
        await exports.check_filter(session, world.owner, ContactFilter(list_id=ids.other_list))
    with pytest.raises(NotFound):
        await exports.contact_card(session, world.outsider, ids.arben)
    [secret] = rows_of(await csv_text(session, world.outsider, ContactFilter()))
    assert secret["Given name"] == "Secret"


async def test_export_pages_through_every_contact_once_even_with_equal_names(
    session: AsyncSession, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(11):
        await create_contact(
            session,
            world.editor,
            ContactIn(given_name="Ana", family_name="Gashi", emails=[f"ana{i}@example.org"]),
        )
    monkeypatch.setattr(exports, "CHUNK", 4)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        rows = rows_of(await csv_text(session, world.viewer, ContactFilter()))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert sorted(r["Emails"] for r in rows) == sorted(f"ana{i}@example.org" for i in range(11))
    # Three pages of ids, and five queries for each page's contacts: not one per contact.
    assert len(statements) <= 3 + 3 * 5


async def test_vcard_export_of_a_filter_reads_back(session: AsyncSession, world: World) -> None:
    await seed(session, world)
    cards = [c async for c in exports.contact_cards(session, world.viewer, ContactFilter())]
    assert [c.given_name for c in cards][1:] == ["Ђорђе", "Arbën"]
    text = "".join(
        [p async for p in exports.contacts_vcf(session, world.viewer, ContactFilter(), "3.0")]
    )
    records = [r for _, r in parse_vcards(text.encode())]
    djordje, arben = records[1], records[2]
    assert arben["emails"] == ["arben@koha.example", "arben.k@mail.example"]
    assert arben["outlet"] == ["Koha Ditore"] and arben["title"] == ["Gazetar"]
    assert arben["tags"] == ["investigative", "key"] and arben["x"] == ["@arbenk"]
    assert "Kanal 10" in arben["notes"][0]
    assert djordje["family_name"] == ["Јовановић"] and djordje["do_not_contact"] == ["yes"]
    again = [c async for c in exports.contact_cards(session, world.owner, ContactFilter())]
    assert [c.uid for c in again] == [c.uid for c in cards]  # an address book updates
    assert len({c.uid for c in cards}) == 3
    assert "UID:urn:uuid:" in "".join(export_vcards(cards))


# --- web ---------------------------------------------------------------------------------------


async def test_contacts_csv_download_honours_the_search_with_bom_and_filename(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    await login(client, world.emails["editor"])
    response = await client.get("/contacts/export.csv", params={"q": "krasniqi"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="beatbook-contacts-20')
    assert disposition.endswith('.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert [r["Family name"] for r in rows_of(response.text)] == ["Krasniqi"]


async def test_a_viewer_can_export_csv_and_vcards(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    await login(client, world.emails["viewer"])
    response = await client.get("/contacts/export.vcf", params={"version": "3.0", "dnc": "yes"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    [(_, djordje)] = list(parse_vcards(response.content))
    assert djordje["given_name"] == ["Ђорђе"]
    assert "VERSION:3.0\r\n" in response.text
    response = await client.get(f"/lists/{ids.smart_list}/export.csv")
    assert response.status_code == 200
    assert "beatbook-key-contacts-" in response.headers["content-disposition"]
    assert [r["Given name"] for r in rows_of(response.text)] == ["Arbën"]
    response = await client.get(f"/lists/{ids.static_list}/export.vcf")
    assert "VERSION:4.0\r\n" in response.text and "Ђорђе" in response.text
    response = await client.get(f"/contacts/{ids.arben}/vcard.vcf")
    assert response.status_code == 200
    assert 'filename="arben-krasniqi.vcf"' in response.headers["content-disposition"]
    [(_, arben)] = list(parse_vcards(response.content))
    assert arben["emails"] == ["arben@koha.example", "arben.k@mail.example"]


async def test_outsider_gets_404_for_another_organisations_exports_and_sees_only_their_own(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    await login(client, world.emails["outsider"])
    for url in (
        f"/lists/{ids.static_list}/export.csv",
        f"/lists/{ids.smart_list}/export.vcf",
        f"/contacts/export.csv?list={ids.static_list}",
        f"/contacts/export.vcf?list={ids.smart_list}",
        f"/contacts/{ids.arben}/vcard.vcf",
    ):
        assert (await client.get(url)).status_code == 404, url
    response = await client.get("/contacts/export.csv")
    assert [r["Given name"] for r in rows_of(response.text)] == ["Secret"]
    response = await client.get("/contacts/export.vcf")
    assert "Secret" in response.text and "Arbën" not in response.text


async def test_a_bad_vcard_version_is_a_clear_error(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await login(client, world.emails["editor"])
    response = await client.get("/contacts/export.vcf", params={"version": "2.1"})
    assert response.status_code == 422
    assert "3.0 or 4.0" in response.text


async def test_api_exports_with_a_token_honour_the_filters(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    token = await accounts.create_api_token(session, actor=world.viewer, name="sheet")
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.get(
        "/api/v1/contacts/export.csv", params={"tag": "key"}, headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert [r["Given name"] for r in rows_of(response.text)] == ["Arbën"]
    response = await client.get(
        "/api/v1/contacts/export.vcf",
        params={"list_id": ids.static_list, "version": "3.0"},
        headers=headers,
    )
    assert response.status_code == 200 and "Ђорђе" in response.text
    response = await client.get(
        "/api/v1/contacts/export.vcf", params={"version": "5"}, headers=headers
    )
    assert response.status_code == 422
    response = await client.get(
        "/api/v1/contacts/export.csv", params={"list_id": ids.other_list}, headers=headers
    )
    assert response.status_code == 404
    assert (await client.get("/api/v1/contacts/export.csv")).status_code == 401


async def test_contacts_and_list_pages_link_to_exports_of_what_they_show(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    await login(client, world.emails["viewer"])
    page = BeautifulSoup((await client.get("/contacts?q=krasniqi&tag=key")).text, "html.parser")
    csv_link = page.select_one("#results a.export-csv")
    vcf_link = page.select_one("#results a.export-vcf")
    assert csv_link is not None and vcf_link is not None
    assert csv_link["href"] == "/contacts/export.csv?q=krasniqi&tag=key"
    assert vcf_link["href"] == "/contacts/export.vcf?q=krasniqi&tag=key"
    fragment = await client.get("/contacts?q=jovanovic", headers={"HX-Request": "true"})
    link = BeautifulSoup(fragment.text, "html.parser").select_one("a.export-csv")
    assert link is not None and link["href"] == "/contacts/export.csv?q=jovanovic"
    nothing = await client.get("/contacts?q=nobody", headers={"HX-Request": "true"})
    assert BeautifulSoup(nothing.text, "html.parser").select_one("a.export-csv") is None
    page = BeautifulSoup((await client.get(f"/lists/{ids.static_list}")).text, "html.parser")
    hrefs = [a["href"] for a in page.select("a.export-csv, a.export-vcf")]
    assert hrefs == [f"/lists/{ids.static_list}/export.csv", f"/lists/{ids.static_list}/export.vcf"]
