"""Importing contacts: every row accounted for, duplicates handled, nothing half-written."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import imports, jobs, privacy
from crm.contacts import ContactIn, create_contact
from crm.errors import InvalidInput, PermissionDenied
from crm.models import (
    Contact,
    ContactEmail,
    ContactOutletRole,
    ImportBatch,
    ImportFile,
    ImportRow,
    Interaction,
    Outlet,
)
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from tests.conftest import World, login

FIXTURES = Path(__file__).parent / "fixtures" / "import"

# An Excel-on-Windows export: Windows-1250, semicolons, CRLF, Serbian headers.
SERBIAN_CSV = (
    "Ime;Prezime;E-mail;Telefon;Medij;Funkcija;Grad\r\n"
    "Jelena;Đorđević;jelena.djordjevic@danas.example.rs;+381 64 111 2233;Danas;novinarka;"
    "Beograd\r\n"
    "Marko;Ćosić;marko@kossev.example.com;;KoSSev;urednik;Mitrovica\r\n"
    ";;;;;;\r\n"
    "Arbën;Këlmendi;arben.k@koha.example.net, a.kelmendi@gmail.example.com;;Koha Ditore;;"
    "Prishtinë\r\n"
).encode("cp1250", errors="replace")


def _csv(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or ["Name", "Email", "Outlet", "Tags"])
    writer.writerows(rows)
    return out.getvalue().encode()


async def _import(
    session: AsyncSession,
    settings: Settings,
    actor: Any,
    data: bytes,
    *,
    filename: str = "contacts.csv",
    on_duplicate: str = "skip",
    dry_run: bool = False,
) -> ImportBatch:
    batch = await imports.upload(session, actor, settings, filename=filename, data=data)
    assert batch.id is not None
    await imports.save_settings(
        session, actor, settings, batch.id, mapping=imports.mapping_of(batch),
        on_duplicate=on_duplicate,
    )  # fmt: skip
    return await imports.run_import(session, settings, batch.id, dry_run=dry_run)


async def _outcomes(session: AsyncSession, batch_id: int) -> dict[int, ImportRow]:
    rows = await session.execute(select(ImportRow).where(ImportRow.batch_id == batch_id))
    return {r.row_number: r for r in rows.scalars()}


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    return (
        await session.execute(select(func.count()).select_from(model).where(*where))
    ).scalar_one()


async def test_a_windows_1250_semicolon_file_imports_with_its_letters_intact(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await create_outlet(
        session, world.editor, OutletIn(name="Koha Ditorë", medium="print", languages=["sq"])
    )
    batch = await _import(session, settings, world.editor, SERBIAN_CSV)
    assert batch.encoding.replace("-", "").lower() in ("cp1250", "windows1250")
    assert batch.delimiter == ";"
    assert batch.counts["imported"] == 3 and batch.status == "done"
    names = set((await session.execute(select(Contact.family_name))).scalars())
    assert {"Đorđević", "Ćosić", "Këlmendi"} <= names
    # "Koha Ditore" in the file is the existing "Koha Ditorë": matched, not created again.
    assert await _count(session, Outlet, Outlet.name.like("Koha%")) == 1
    kelmendi = (
        await session.execute(select(Contact).where(Contact.family_name == "Këlmendi"))
    ).scalar_one()
    emails = await _count(session, ContactEmail, ContactEmail.contact_id == kelmendi.id)
    assert emails == 2  # two addresses in one cell
    assert kelmendi.legal_source.startswith("Imported from contacts.csv")
    timeline = await _count(session, Interaction, Interaction.contact_id == kelmendi.id)
    assert timeline == 1
    # The file is not kept once its contacts hold the data.
    assert await session.get(ImportFile, batch.id) is None


async def test_every_row_ends_imported_skipped_or_rejected_with_field_and_reason(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    data = _csv(
        [
            ["Arben Krasniqi", "arben@koha.example.net", "Koha", "ekonomi"],
            ["Besa Gashi", "not-an-email", "KTV", ""],
            ["", "nobody@example.net", "RTK", ""],
            ["Arben Krasniqi", " ARBEN@Koha.example.net ", "Koha", "politikë"],
            ["Drita Berisha", "drita@rtk.example.net", "RTK", "=cmd|' /C calc'!A0"],
        ]
    )
    batch = await _import(session, settings, world.editor, data)
    assert batch.id is not None
    rows = await _outcomes(session, batch.id)
    assert {n: r.outcome for n, r in rows.items()} == {
        2: "imported", 3: "rejected", 4: "rejected", 5: "skipped", 6: "imported",
    }  # fmt: skip
    assert rows[3].field == "emails" and "not-an-email" in rows[3].reason
    assert rows[4].field == "given_name"
    assert "earlier row" in rows[5].reason and rows[5].contact_id == rows[2].contact_id
    assert batch.counts == {
        "imported": 2,
        "rejected": 2,
        "skipped": 1,
        "new_outlets": ["Koha", "RTK"],
    }
    report = "".join([chunk async for chunk in imports.report_csv(session, world.editor, batch.id)])
    assert report.startswith("\ufeffrow,outcome,field,reason")
    assert len(report.strip().splitlines()) == 6
    assert ",'=cmd" not in report  # the tag is data, but nothing in the report starts a formula


async def test_imported_contacts_get_the_search_text_and_sort_key_a_saved_contact_gets(
    session: AsyncSession, settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm.search import search_key

    monkeypatch.setattr(imports, "CHUNK", 2)  # names folded in one chunk are reused in the next
    data = _csv(
        [
            ["Đorđe Đorđević", "djordje@danas.example.rs; dj@gmail.example.com", "Danas", ""],
            ["Ђорђе Ђорђевић", "", "Danas", "politika"],
            ["Arbën Këlmendi", "arben@koha.example.net", "Koha Ditorë", "ekonomi, Kultura"],
            ["Jovana Јовановић", "JOVANA@kossev.example.com", "", ""],
            ["Arbën Đurić", "arben.djuric@koha.example.net", "Koha Ditorë", ""],
            ["Madonna", "m@example.org", "RTK", ""],
        ]
    )
    batch = await _import(session, settings, world.editor, data, on_duplicate="create")
    assert batch.id is not None and batch.counts["imported"] == 6
    contacts = (await session.execute(select(Contact).order_by(Contact.id))).scalars().all()
    assert len(contacts) == 6
    for contact in contacts:
        emails = (
            await session.execute(
                select(ContactEmail.email)
                .where(ContactEmail.contact_id == contact.id)
                .order_by(ContactEmail.position)
            )
        ).scalars()
        outlets = (
            await session.execute(
                select(Outlet.name)
                .join(ContactOutletRole, ContactOutletRole.outlet_id == Outlet.id)
                .where(ContactOutletRole.contact_id == contact.id)
            )
        ).scalars()
        given, family = contact.given_name, contact.family_name
        assert contact.search_text == search_key(given, family, *emails, contact.city, *outlets)
        assert contact.sort_key == search_key(family or given, given).split(" | ")[0]
    # Every row has its report row and its contact its one timeline entry.
    rows = await _outcomes(session, batch.id)
    assert sorted(rows) == [2, 3, 4, 5, 6, 7]
    timeline = (await session.execute(select(Interaction.contact_id, Interaction.summary))).all()
    assert sorted(timeline) == sorted(
        (r.contact_id, f"Imported from contacts.csv, row {n}") for n, r in rows.items()
    )


async def test_duplicate_rule_update_skip_or_create(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    existing = await create_contact(
        session, world.editor,
        ContactIn(given_name="Arben", family_name="Krasniqi", emails=["arben@koha.example.net"],
                  do_not_contact=True, do_not_contact_reason="Asked us to stop", city=""),
    )  # fmt: skip
    row = [
        ["Arben Krasniqi", "Arben@koha.example.net; arben.k@gmail.example.com", "Koha", "ekonomi"]
    ]
    skipped = await _import(session, settings, world.editor, _csv(row))
    assert skipped.counts.get("skipped") == 1 and "imported" not in skipped.counts
    updated = await _import(session, settings, world.editor, _csv(row), on_duplicate="update")
    assert updated.counts.get("updated") == 1
    await session.refresh(existing)
    assert existing.do_not_contact  # an import never lifts do-not-contact
    assert await _count(session, ContactEmail, ContactEmail.contact_id == existing.id) == 2
    roles = await _count(session, ContactOutletRole, ContactOutletRole.contact_id == existing.id)
    assert roles == 1
    created = await _import(session, settings, world.editor, _csv(row), on_duplicate="create")
    assert created.counts.get("imported") == 1
    assert await _count(session, Contact, Contact.family_name == "Krasniqi") == 2


async def test_likely_duplicates_are_flagged_not_merged(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    first = _csv([["Arbën Krasniqi", "arben@koha.example.net", "Koha Ditore", ""]])
    await _import(session, settings, world.editor, first)
    second = _csv([["Arben Krasniqi", "a.krasniqi@gmail.example.com", "Koha", ""]])
    batch = await _import(session, settings, world.editor, second)
    assert batch.id is not None
    rows = await _outcomes(session, batch.id)
    assert rows[2].outcome == "imported" and rows[2].similar_contact_id is not None
    assert batch.counts["flagged"] == 1
    assert await _count(session, Contact, Contact.family_name == "Krasniqi") == 2


async def test_rerunning_the_same_file_adds_nobody_even_without_emails(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    data = _csv(
        [
            ["Arben Krasniqi", "arben@koha.example.net", "Koha", ""],
            ["Vjosa Hoxha", "", "Radio Dukagjini", ""],
        ]
    )
    await _import(session, settings, world.editor, data)
    again = await _import(session, settings, world.editor, data)
    assert again.counts.get("skipped") == 2 and "imported" not in again.counts
    assert await _count(session, Contact, Contact.org_id == world.editor.org_id) == 2


async def test_an_erased_address_is_not_silently_added_again(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await privacy.suppress(session, settings, world.editor.org_id, "Gone@Example.net", "erased")
    await session.commit()
    batch = await _import(
        session, settings, world.editor, _csv([["Ana Gone", "gone@example.net", "", ""]])
    )
    assert batch.id is not None
    rows = await _outcomes(session, batch.id)
    assert rows[2].outcome == "skipped" and "not added again" in rows[2].reason
    assert await _count(session, ContactEmail, ContactEmail.normalised == "gone@example.net") == 0


async def test_a_dry_run_writes_nothing_but_reports_what_would_happen(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    data = _csv([["Arben Krasniqi", "arben@koha.example.net", "Koha", ""], ["", "", "", "x"]])
    batch = await _import(session, settings, world.editor, data, dry_run=True)
    dry = batch.counts["dry_run"]
    assert dry["status"] == "done" and dry["imported"] == 1 and dry["rejected"] == 1
    assert dry["problems"][0]["row"] == 3
    assert await _count(session, Contact) == 0 and await _count(session, Outlet) == 0
    assert batch.status == "uploaded"  # the real import can still run


async def test_a_crash_mid_import_leaves_no_half_contact_and_the_job_carries_on(
    session: AsyncSession,
    settings: Settings,
    world: World,
    maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imports, "CHUNK", 2)
    rows = [[f"Gazetar {i} Test{i}", f"g{i}@example.net", "Koha", ""] for i in range(5)]
    batch = await imports.upload(
        session, world.editor, settings, filename="five.csv", data=_csv(rows)
    )
    assert batch.id is not None
    await imports.start(session, world.editor, batch.id, dry_run=False)
    real_write = imports._Run.write
    calls = 0

    async def crashing_write(self: Any, outcomes: Any, contacts: Any) -> None:
        nonlocal calls
        calls += 1
        await real_write(self, outcomes, contacts)
        if calls == 2:
            raise RuntimeError("power cut")  # after writing, before the chunk commits

    monkeypatch.setattr(imports._Run, "write", crashing_write)
    assert await jobs.run_one(maker, settings)
    async with maker() as check:
        assert await _count(check, Contact) == 2  # the first chunk only, whole
        assert await _count(check, ContactEmail) == 2
        state = await check.get(ImportBatch, batch.id)
        assert state is not None and state.next_row == 4
    monkeypatch.setattr(imports._Run, "write", real_write)
    async with maker() as again:
        await imports.run_import(again, settings, batch.id)
    async with maker() as check:
        assert await _count(check, Contact) == 5
        assert await _count(check, ImportRow, ImportRow.batch_id == batch.id) == 5
        done = await check.get(ImportBatch, batch.id)
        assert done is not None and done.status == "done" and done.counts["imported"] == 5


async def test_bad_files_get_a_clear_message(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    small = settings.model_copy(update={"import_max_bytes": 100})
    cases = {
        b"": "empty",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4: "",
        b"x" * 200: "MB",
    }
    for data, words in cases.items():
        with pytest.raises(InvalidInput) as caught:
            await imports.upload(
                session, world.editor, small if words == "MB" else settings,
                filename="list.csv", data=data,
            )  # fmt: skip
        assert caught.value.errors["file"] and words in caught.value.errors["file"]
    with pytest.raises(PermissionDenied):
        await imports.upload(session, world.viewer, settings, filename="a.csv", data=b"Name\nA\n")


async def test_import_through_the_pages(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    token = await login(client, world.emails["editor"])
    upload = await client.post(
        "/imports",
        data={"csrftoken": token},
        files={"file": ("Lista e gazetarëve.csv", SERBIAN_CSV, "text/csv")},
    )
    assert upload.status_code == 303
    page = await client.get(upload.headers["location"])
    soup = BeautifulSoup(page.text, "html.parser")
    selects = {s["name"]: s.find("option", selected=True) for s in soup.select("#preview select")}
    assert selects["col-0"]["value"] == "given_name" and selects["col-2"]["value"] == "emails"
    assert "Đorđević" in soup.select_one("#preview tbody").text
    form = {s: o["value"] if o else "" for s, o in selects.items()}
    answer = await client.post(
        upload.headers["location"],
        data={**form, "csrftoken": token, "on_duplicate": "skip", "action": "dry_run",
              "encoding": "windows-1250"},
    )  # fmt: skip
    assert answer.status_code == 303
    while await jobs.run_one(maker, settings):
        pass
    page = await client.get(upload.headers["location"])
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one('#counts [data-count="imported"]').text == "3"
    answer = await client.post(
        upload.headers["location"],
        data={**form, "csrftoken": token, "on_duplicate": "skip", "action": "import"},
    )
    assert answer.status_code == 303
    progress = await client.get(
        upload.headers["location"] + "/progress", headers={"HX-Request": "true"}
    )
    assert progress.text.lstrip().startswith('<section id="progress"') and "hx-get" in progress.text
    while await jobs.run_one(maker, settings):
        pass
    page = await client.get(upload.headers["location"])
    assert "Import finished" in page.text
    report = await client.get(upload.headers["location"] + "/report.csv")
    assert report.status_code == 200 and report.text.count("imported") == 3
    contacts = await client.get("/contacts?q=djordjevic")
    assert "Đorđević" in contacts.text


async def test_unreadable_upload_is_a_422_page_not_a_500(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await login(client, world.emails["editor"])
    answer = await client.post(
        "/imports",
        data={"csrftoken": token},
        files={"file": ("contacts.csv", b"\x00\x01\x02" * 500 + b"\xff\xfe\x00", "text/csv")},
    )
    assert answer.status_code == 422
    assert BeautifulSoup(answer.text, "html.parser").select_one("#file-error").text.strip()
    viewer = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    token = await login(viewer, world.emails["viewer"])
    denied = await viewer.post(
        "/imports", data={"csrftoken": token}, files={"file": ("a.csv", b"Name\nA\n", "text/csv")}
    )
    assert denied.status_code == 403


async def test_the_api_imports_a_file_with_the_guessed_mapping(
    client: httpx.AsyncClient, world: World, settings: Settings,
    maker: async_sessionmaker[AsyncSession], session: AsyncSession,
) -> None:  # fmt: skip
    from crm.accounts import create_api_token

    token = await create_api_token(session, actor=world.editor, name="import")
    await session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = await client.post(
        "/api/v1/imports",
        headers=headers,
        files={"file": ("c.csv", _csv([["Arben Krasniqi", "a@koha.example.net", "Koha", ""]]))},
        data={"on_duplicate": "update"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "queued" and body["mapping"]["0"] == "full_name"
    while await jobs.run_one(maker, settings):
        pass
    status = await client.get(f"/api/v1/imports/{body['id']}", headers=headers)
    assert status.json()["status"] == "done" and status.json()["counts"]["imported"] == 1
    bad = await client.post(
        "/api/v1/imports", headers=headers, files={"file": ("c.csv", b"", "text/csv")}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "file"]


async def test_vcards_from_a_phone_import_through_the_same_pipeline(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    data = (Path(__file__).parent / "fixtures" / "vcard" / "iphone-3.0.vcf").read_bytes()
    batch = await _import(session, settings, world.editor, data, filename="Contacts.vcf")
    assert batch.file_format == "vcf" and batch.total_rows == data.count(b"BEGIN:VCARD")
    assert batch.counts["imported"] == batch.total_rows
    emails = await _count(session, ContactEmail, ContactEmail.org_id == world.editor.org_id)
    assert emails >= batch.total_rows
    again = await _import(session, settings, world.editor, data, filename="Contacts.vcf")
    assert again.counts.get("skipped") == batch.total_rows


async def test_an_exported_file_imports_back_without_the_formula_guards(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    data = _csv(
        [["Arben Krasniqi", "arben@koha.example.net", "'+383 44 111 222", "'@arben_k"]],
        header=["Name", "Email", "Phone", "X"],
    )
    batch = await _import(session, settings, world.editor, data)
    assert batch.counts["imported"] == 1
    contact = (await session.execute(select(Contact))).scalar_one()
    assert contact.phones == ["+383 44 111 222"] and contact.social == {"x": "@arben_k"}


async def test_imported_contacts_never_get_the_id_of_a_deleted_one(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    from crm.contacts import delete_contact

    gone = await create_contact(session, world.editor, ContactIn(given_name="Merged Away"))
    gone_id = gone.id
    await delete_contact(session, world.editor, gone_id or 0)
    batch = await _import(session, settings, world.editor, _csv([["Arta Hoxha", "", "", ""]]))
    assert batch.id is not None
    row = (await _outcomes(session, batch.id))[2]
    assert row.contact_id is not None and gone_id is not None and row.contact_id > gone_id


async def test_update_mode_sends_a_later_row_to_the_contact_an_earlier_row_updated(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await create_contact(
        session, world.editor,
        ContactIn(given_name="Arben", family_name="Krasniqi", emails=["a@koha.example.net"]),
    )  # fmt: skip
    rows = [
        ["Arben Krasniqi", "a@koha.example.net; b@koha.example.net", "Koha", ""],
        ["Arben Krasniqi", "b@koha.example.net", "Koha", ""],
    ]
    batch = await _import(session, settings, world.editor, _csv(rows), on_duplicate="update")
    assert batch.counts.get("updated") == 2 and "imported" not in batch.counts
    assert await _count(session, Contact) == 1


async def test_create_anyway_never_makes_a_mailable_copy_of_a_do_not_contact(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await create_contact(
        session, world.editor,
        ContactIn(given_name="Arben", family_name="Krasniqi", emails=["a@koha.example.net"],
                  do_not_contact=True, do_not_contact_reason="Objected"),
    )  # fmt: skip
    data = _csv([["Arben Krasniqi", "a@koha.example.net", "Koha", ""]])
    batch = await _import(session, settings, world.editor, data, on_duplicate="create")
    assert batch.counts.get("imported") == 1
    flags = (await session.execute(select(Contact.do_not_contact))).scalars().all()
    assert flags == [True, True]


async def test_a_dry_run_in_progress_blocks_the_import_and_changes(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    batch = await imports.upload(
        session, world.editor, settings, filename="a.csv", data=_csv([["Arta Hoxha", "", "", ""]])
    )
    assert batch.id is not None
    await imports.start(session, world.editor, batch.id, dry_run=True)
    with pytest.raises(InvalidInput):
        await imports.start(session, world.editor, batch.id, dry_run=False)
    with pytest.raises(InvalidInput):
        await imports.save_settings(
            session, world.editor, settings, batch.id, mapping={0: "full_name"},
            on_duplicate="update",
        )  # fmt: skip


async def test_erasing_a_contact_also_removes_them_from_waiting_uploads(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    contact = await create_contact(
        session, world.editor,
        ContactIn(given_name="Arta", family_name="Hoxha", emails=["arta@koha.example.net"]),
    )  # fmt: skip
    data = _csv([["Arta Hoxha", "ARTA@koha.example.net", "Koha", ""]])
    checked = await _import(session, settings, world.editor, data, dry_run=True)
    assert checked.id is not None
    assert "arta@koha.example.net" in str(checked.counts["dry_run"]["problems"])
    await privacy.erase_contact(session, world.editor, settings, contact.id or 0)
    await session.refresh(checked)
    assert await session.get(ImportFile, checked.id) is None
    assert "arta@koha.example.net" not in str(checked.counts).lower()
