"""A journalist's data rights: suppressions, "everything we hold", erasure, and data requests
confirmed by email (a real SMTP server receives what Beatbook sends)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup
from fastapi import FastAPI
from sqlalchemy import JSON, String, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

import outreach.privacy_mail  # noqa: F401  (registers the privacy.* job handlers)
from crm import accounts, interactions, jobs, lists, privacy
from crm.contacts import ContactIn, create_contact
from crm.errors import NotFound, PermissionDenied
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.models import (
    AuditEntry,
    Beat,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactOutletRole,
    ContactTag,
    DataRequest,
    ImportBatch,
    ImportRow,
    Interaction,
    ListMember,
    Suppression,
)
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach.mail import MailNotConfigured, new_message, send_mail
from tests.conftest import World, csrf_of, login

ADDRESS = "arben.krasniqi@koha.example"
SECOND = "Arben@gmail.example"


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


# --- a real SMTP server ---------------------------------------------------------------------


class Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    box.port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, inbox: Inbox) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        suppression_key=settings.suppression_key,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_tls="none",
        mail_from="Qendra për Drejtësi <privacy@qendra.example>",
    )


@pytest.fixture
async def owner_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def run_jobs(maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while await jobs.run_one(maker, settings):
        pass


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def confirm_path(message: EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/privacy/confirm/[\w-]+)", text_of(message))
    assert match, text_of(message)
    return match.group(1)


# --- data ------------------------------------------------------------------------------------


async def seed(session: AsyncSession, world: World) -> dict[str, int]:
    """A journalist with everything a contact can hold, and traces of them elsewhere."""
    outlet = await create_outlet(
        session, world.editor, OutletIn(name="Koha Ditore", medium="print", languages=["sq"])
    )
    beat = (await session.execute(select(Beat).limit(1))).scalar_one()
    contact = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name="Arbën",
            family_name="Krasniqi",
            emails=[ADDRESS, SECOND],
            phones=["+383 44 123 456"],
            social={"x": "@arbenk"},
            city="Prishtina",
            notes="Prefers calls before noon.",
            beat_ids=[beat.id or 0],
            tags=["investigative"],
            roles=[{"outlet_id": outlet.id, "title": "Reporter"}],  # type: ignore[list-item]
            legal_basis="consent",
            legal_source="Signed up at the 2025 media breakfast",
        ),
    )
    cid = contact.id or 0
    for kind, summary, body in (
        ("call", "Pitched the air-quality report", "Interested; wants data by Friday."),
        ("note", "Met at the EU press briefing", ""),
    ):
        await interactions.log_interaction(
            session, world.editor, cid, InteractionIn(kind=kind, summary=summary, body=body)
        )
    lst = await lists.create_list(session, world.editor, ListIn(name="Print reporters"))
    await lists.add_members(session, world.editor, lst.id or 0, [cid])
    batch = ImportBatch(
        org_id=world.owner.org_id, user_id=world.editor.user_id, filename="gazetaret.csv",
        file_format="csv", status="done",
    )  # fmt: skip
    session.add(batch)
    await session.flush()
    session.add_all(
        [
            ImportRow(
                batch_id=batch.id or 0, row_number=2, outcome="updated", contact_id=cid,
                field="emails", reason=f"Same address as an existing contact: {ADDRESS}",
            ),
            ImportRow(
                batch_id=batch.id or 0, row_number=3, outcome="rejected", field="emails",
                reason=f"{SECOND.lower()} appears twice in the file",
            ),
            ImportRow(
                batch_id=batch.id or 0, row_number=4, outcome="imported",
                similar_contact_id=cid, reason="Likely the same person as Arbën Krasniqi",
            ),
            ImportRow(
                batch_id=batch.id or 0, row_number=5, outcome="rejected", field="given_name",
                reason="A name is required.",
            ),
        ]
    )  # fmt: skip
    # Traces of a duplicate merged into this contact: its own history, and the merge.
    session.add_all(
        [
            AuditEntry(
                org_id=world.owner.org_id, user_id=world.editor.user_id, action="create",
                entity="contact", entity_id=99_999, changes={"name": "Arben Krasniqi"},
            ),
            AuditEntry(
                org_id=world.owner.org_id, user_id=world.editor.user_id, action="merge",
                entity="contact", entity_id=cid,
                changes={"kept_id": cid, "merged_id": 99_999, "merged_name": "Arben Krasniqi",
                         "choices": {"emails": [SECOND]}},
            ),
            AuditEntry(
                org_id=world.owner.org_id, user_id=world.editor.user_id, action="note",
                entity="organisation", entity_id=None, changes={"said": f"wrote to {ADDRESS}"},
            ),
        ]
    )  # fmt: skip
    await session.commit()
    return {"contact_id": cid, "list_id": lst.id or 0, "outlet_id": outlet.id or 0}


async def columns_mentioning(session: AsyncSession, needle: str) -> list[str]:
    """Every text (and JSON) column of every table that contains `needle`, any case."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | JSON):
                continue
            text = func.lower(cast(column, String))
            stmt = select(func.count()).select_from(table).where(text.contains(needle.lower()))
            if (await session.execute(stmt)).scalar_one():
                found.append(f"{table.name}.{column.name}")
    return found


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int(
        (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
    )


# --- suppressions ----------------------------------------------------------------------------


def test_address_hash_is_a_keyed_hash_of_the_normalised_address() -> None:
    settings = Settings(_env_file=None, suppression_key="k1")  # type: ignore[call-arg]
    digest = privacy.address_hash(settings, f"  {ADDRESS.upper()} ")
    assert digest == privacy.address_hash(settings, ADDRESS)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    other_key = settings.model_copy(update={"suppression_key": "another-key"})
    assert privacy.address_hash(other_key, ADDRESS) != digest


async def test_suppress_is_idempotent_and_per_organisation(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    org = world.owner.org_id
    await privacy.suppress(session, settings, org, ADDRESS, "unsubscribed")
    await privacy.suppress(session, settings, org, ADDRESS.upper(), "erased")
    await session.commit()
    assert await count(session, Suppression, Suppression.org_id == org) == 1
    found = await privacy.suppressed(session, settings, org, [f" {ADDRESS.upper()}", SECOND])
    assert found == {ADDRESS: "unsubscribed"}
    assert await privacy.suppressed(session, settings, world.outsider.org_id, [ADDRESS]) == {}


# --- export ----------------------------------------------------------------------------------


async def test_export_holds_profile_legal_basis_and_every_interaction(
    session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    data = await privacy.export_contact_data(session, world.viewer, ids["contact_id"])
    json.dumps(data)  # JSON-ready as it is
    assert data["profile"]["given_name"] == "Arbën"
    assert data["profile"]["notes"] == "Prefers calls before noon."
    assert [e["email"] for e in data["emails"]] == [ADDRESS, SECOND]
    assert data["phones"] == ["+383 44 123 456"] and data["social"] == {"x": "@arbenk"}
    assert data["outlet_roles"][0]["outlet"] == "Koha Ditore"
    assert data["tags"] == ["investigative"] and data["lists"] == ["Print reporters"]
    assert len(data["beats"]) == 1
    legal = data["legal_basis"]
    assert legal["basis"] == "consent"
    assert legal["source"] == "Signed up at the 2025 media breakfast"
    assert legal["captured_at"] and legal["captured_by"] == world.emails["editor"]
    summaries = [i["summary"] for i in data["interactions"]]
    assert summaries == ["Pitched the air-quality report", "Met at the EU press briefing"]
    assert data["interactions"][0]["body"] == "Interested; wants data by Friday."
    assert {r["row"] for r in data["import_rows"]} == {2, 4}
    assert {"create", "merge"} <= {a["action"] for a in data["audit"]}
    assert {"name": "Arben Krasniqi"} in [a["changes"] for a in data["audit"]]  # merged in
    with pytest.raises(NotFound):
        await privacy.export_contact_data(session, world.outsider, ids["contact_id"])


# --- erasure ---------------------------------------------------------------------------------


async def test_erase_leaves_only_a_suppression_and_no_address_anywhere(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    ids = await seed(session, world)
    cid = ids["contact_id"]
    assert await columns_mentioning(session, ADDRESS)  # the check finds it before erasure
    await privacy.erase_contact(session, world.editor, settings, cid)
    session.expunge_all()

    assert await session.get(Contact, cid) is None
    for model in (
        ContactEmail,
        Interaction,
        ListMember,
        ContactTag,
        ContactOutletRole,
        ContactBeat,
    ):
        assert await count(session, model, model.contact_id == cid) == 0, model.__name__
    assert await count(session, ListMember, ListMember.list_id == ids["list_id"]) == 0
    assert await lists.get_list(session, world.owner, ids["list_id"])  # the list itself stays

    for needle in (ADDRESS, SECOND, "Krasniqi", "Arbën", "air-quality", "+383 44"):
        assert await columns_mentioning(session, needle) == [], needle

    rows = {r.row_number: r for r in (await session.execute(select(ImportRow))).scalars()}
    assert rows[2].outcome == "updated" and rows[2].contact_id is None
    assert rows[2].reason == privacy.ERASED_REASON and rows[3].reason == privacy.ERASED_REASON
    assert rows[4].similar_contact_id is None
    assert rows[5].reason == "A name is required."  # about nobody: kept

    entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
    about = [e for e in entries if e.entity in ("contact", "interaction")]
    assert about and all(e.changes.get("scrubbed") == "erased" for e in about[:-1])
    assert about[-1].action == "erase" and about[-1].changes == {"addresses_suppressed": 2}
    assert any(e.entity == "outlet" and e.changes.get("name") == "Koha Ditore" for e in entries)
    [note] = [e for e in entries if e.action == "note"]
    assert note.changes == {"scrubbed": "erased"}  # it quoted the address

    hashes = set((await session.execute(select(Suppression.address_hash))).scalars())
    assert hashes == {
        privacy.address_hash(settings, ADDRESS),
        privacy.address_hash(settings, SECOND),
    }
    found = await privacy.suppressed(session, settings, world.owner.org_id, [SECOND])
    assert found == {SECOND.lower(): "erased"}  # a later import is flagged

    with pytest.raises(NotFound):
        await privacy.erase_contact(session, world.editor, settings, cid)


async def test_viewers_cannot_erase_and_outsiders_cannot_find(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    ids = await seed(session, world)
    with pytest.raises(PermissionDenied):
        await privacy.erase_contact(session, world.viewer, settings, ids["contact_id"])
    with pytest.raises(NotFound):
        await privacy.erase_contact(session, world.outsider, settings, ids["contact_id"])
    assert await session.get(Contact, ids["contact_id"]) is not None


async def test_contact_page_offers_export_to_all_and_erase_to_writers(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    cid = ids["contact_id"]
    await login(client, world.emails["viewer"])
    page = html(await client.get(f"/contacts/{cid}"))
    assert page.select_one(f'a[href="/contacts/{cid}/data.json"]')
    assert page.select_one(f'a[href="/contacts/{cid}/erase"]') is None
    download = await client.get(f"/contacts/{cid}/data.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.json()["profile"]["family_name"] == "Krasniqi"
    assert (await client.get(f"/contacts/{cid}/erase")).status_code == 403


async def test_erasing_from_the_contact_page_asks_first_naming_the_contact(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    cid = ids["contact_id"]
    csrf = await login(client, world.emails["editor"])
    page = html(await client.get(f"/contacts/{cid}"))
    assert page.select_one(f'a[href="/contacts/{cid}/erase"]').get_text(strip=True) == "Erase"
    confirm = html(await client.get(f"/contacts/{cid}/erase"))
    assert "Arbën Krasniqi" in confirm.select_one("h1").get_text()
    form = confirm.select_one(f'form[action="/contacts/{cid}/erase"]')
    assert form is not None and "Arbën Krasniqi" in form.select_one("button").get_text()
    assert await session.get(Contact, cid) is not None  # looking changed nothing
    done = await client.post(f"/contacts/{cid}/erase", data={"csrftoken": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/contacts"
    assert (await client.get(f"/contacts/{cid}")).status_code == 404
    again = await client.post(f"/contacts/{cid}/erase", data={"csrftoken": csrf})
    assert again.status_code == 404


async def test_api_exports_and_erases(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    cid = ids["contact_id"]
    viewer = await accounts.create_api_token(session, actor=world.viewer, name="read")
    editor = await accounts.create_api_token(session, actor=world.editor, name="write")
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    as_editor = {"Authorization": f"Bearer {editor}"}
    data = await client.get(f"/api/v1/contacts/{cid}/data", headers=as_viewer)
    assert data.status_code == 200 and data.json()["legal_basis"]["basis"] == "consent"
    refused = await client.post(f"/api/v1/contacts/{cid}/erase", headers=as_viewer)
    assert refused.status_code == 403
    assert (
        await client.post(f"/api/v1/contacts/{cid}/erase", headers=as_editor)
    ).status_code == 204
    assert (
        await client.post(f"/api/v1/contacts/{cid}/erase", headers=as_editor)
    ).status_code == 404
    assert (await client.get(f"/api/v1/contacts/{cid}/data", headers=as_editor)).status_code == 404


# --- data requests ---------------------------------------------------------------------------


async def ask(
    client: httpx.AsyncClient, org_id: int, email: str, kind: str = "copy", message: str = ""
) -> httpx.Response:
    """What a journalist does: open the public page, fill it in, send it."""
    page = await client.get(f"/privacy/{org_id}/request")
    assert page.status_code == 200
    data = {"email": email, "kind": kind, "message": message, "csrftoken": csrf_of(page.text)}
    return await client.post(f"/privacy/{org_id}/request", data=data)


async def confirm_from_mail(client: httpx.AsyncClient, message: EmailMessage) -> None:
    path = confirm_path(message)
    page = await client.get(path)
    assert page.status_code == 200
    form = html(page).select_one(f'form[action^="{path}"]')
    assert form is not None
    done = await client.post(form["action"], data={"csrftoken": csrf_of(page.text)})
    assert done.status_code == 303
    after = html(await client.get(path))
    assert "confirmed" in after.select_one("h1").get_text()


async def test_copy_request_end_to_end_through_the_inbox(
    client: httpx.AsyncClient,
    owner_client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    inbox: Inbox,
    world: World,
) -> None:
    ids = await seed(session, world)
    org = world.owner.org_id
    form = html(await client.get(f"/privacy/{org}/request"))
    assert "Qendra për Drejtësi" in form.select_one("h1").get_text()
    assert {i["value"] for i in form.select('input[name="kind"]')} == {"copy", "erasure"}

    sent = await ask(client, org, ADDRESS.upper(), "copy", "Please send everything.")
    assert sent.status_code == 200
    assert "Check your inbox" in html(sent).select_one("h1").get_text()
    assert inbox.messages == []  # nothing is sent from the request itself
    await run_jobs(maker, mail_settings)
    [mail] = inbox.messages
    assert mail["To"] == ADDRESS and "Qendra për Drejtësi" in mail["Subject"]
    assert mail["Message-ID"] and mail["Date"]
    assert "a copy of the data" in text_of(mail)

    # The owner sees nothing to do until the journalist confirms.
    csrf = await login(owner_client, world.emails["owner"])
    listing = html(await owner_client.get("/privacy/requests"))
    assert "waiting for the journalist" in listing.select_one("#requests tbody tr").get_text()

    await confirm_from_mail(client, mail)
    [req] = (await session.execute(select(DataRequest))).scalars().all()
    listing = html(await owner_client.get("/privacy/requests"))
    row = listing.select_one(f"#request-{req.id}")
    assert ADDRESS in row.get_text() and "Please send everything." in row.get_text()
    assert row.select_one(f'a[href="/contacts/{ids["contact_id"]}"]')

    download = await owner_client.get(f"/privacy/requests/{req.id}/data.json")
    assert download.json()["contacts"][0]["profile"]["given_name"] == "Arbën"

    done = await owner_client.post(
        f"/privacy/requests/{req.id}/fulfil", data={"method": "email", "csrftoken": csrf}
    )
    assert done.status_code == 303
    await run_jobs(maker, mail_settings)
    copy = inbox.messages[-1]
    assert copy["To"] == ADDRESS
    [attachment] = list(copy.iter_attachments())
    assert attachment.get_filename() == "your-data.json"
    data = json.loads(attachment.get_content())
    assert data["address"] == ADDRESS
    [held] = data["contacts"]
    assert held["legal_basis"]["basis"] == "consent"
    assert len(held["interactions"]) == 2

    session.expunge_all()
    closed = await session.get(DataRequest, req.id)
    assert closed is not None and closed.status == "fulfilled"
    assert closed.fulfilled_by_id == world.owner.user_id and closed.fulfilled_at is not None
    assert closed.email == "" and closed.outcome
    row = html(await owner_client.get("/privacy/requests")).select_one(f"#request-{req.id}")
    assert "fulfilled" in row.get_text() and ADDRESS not in row.get_text()


async def test_erasure_request_erases_matching_contacts_and_keeps_no_address(
    client: httpx.AsyncClient,
    owner_client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    inbox: Inbox,
    world: World,
) -> None:
    ids = await seed(session, world)
    org = world.owner.org_id
    await ask(client, org, ADDRESS, "erasure", "I'm Arbën Krasniqi, please forget me.")
    await ask(client, org, "nobody@elsewhere.example", "erasure")
    await run_jobs(maker, mail_settings)
    for mail in inbox.messages:
        await confirm_from_mail(client, mail)
    requests = (await session.execute(select(DataRequest).order_by(DataRequest.id))).scalars()
    known, unknown = list(requests)

    csrf = await login(owner_client, world.emails["owner"])
    row = html(await owner_client.get("/privacy/requests")).select_one(f"#request-{known.id}")
    assert row.select_one("button.danger").get_text(strip=True) == "Erase 1 contact"
    for req in (known, unknown):
        done = await owner_client.post(
            f"/privacy/requests/{req.id}/fulfil", data={"csrftoken": csrf}
        )
        assert done.status_code == 303

    session.expunge_all()
    assert await session.get(Contact, ids["contact_id"]) is None
    for needle in (ADDRESS, SECOND, "nobody@elsewhere.example", "Krasniqi"):
        assert await columns_mentioning(session, needle) == [], needle
    found = await privacy.suppressed(
        session, mail_settings, org, [ADDRESS, SECOND, "nobody@elsewhere.example"]
    )
    assert found == dict.fromkeys((ADDRESS, SECOND.lower(), "nobody@elsewhere.example"), "erased")
    for req in (known, unknown):
        closed = await session.get(DataRequest, req.id)
        assert closed is not None and closed.status == "fulfilled" and closed.email == ""


async def test_known_and_unknown_addresses_get_the_same_answer(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    org = world.owner.org_id
    known = await ask(client, org, ADDRESS)
    unknown = await ask(client, org, "stranger@nowhere.example")
    assert known.status_code == unknown.status_code == 200
    assert (
        html(known).select_one("#answer").get_text()
        == html(unknown).select_one("#answer").get_text()
    )
    assert await count(session, DataRequest) == 2  # both wait for a confirmation alike


async def test_bad_input_and_unknown_organisations_on_the_public_page(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    bad = await ask(client, world.owner.org_id, "not an address", "copy")
    assert bad.status_code == 422
    assert html(bad).select_one("#email-error").get_text(strip=True)
    field = html(bad).select_one('input[name="email"]')
    assert field is not None and field["value"] == "not an address"
    nothing = await ask(client, world.owner.org_id, ADDRESS, "everything")
    assert nothing.status_code == 422 and html(nothing).select_one("#kind-error")
    assert (await client.get("/privacy/999999/request")).status_code == 404
    assert await count(session, DataRequest) == 0


async def test_repeated_requests_for_one_address_are_throttled_politely(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    org = world.owner.org_id
    for _ in range(privacy.REQUESTS_PER_DAY):
        assert (await ask(client, org, ADDRESS)).status_code == 200
    refused = await ask(client, org, ADDRESS)
    assert refused.status_code == 429
    assert "try again tomorrow" in html(refused).select_one("#answer").get_text()
    assert (await ask(client, org, SECOND)).status_code == 200  # other addresses are not held up
    assert await count(session, DataRequest) == privacy.REQUESTS_PER_DAY + 1


async def test_confirmation_links_expire_and_unknown_ones_answer_404(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    inbox: Inbox,
    world: World,
) -> None:
    page = await client.get(f"/privacy/{world.owner.org_id}/request")
    csrf = csrf_of(page.text)
    assert (await client.get("/privacy/confirm/not-a-token")).status_code == 404
    refused = await client.post("/privacy/confirm/not-a-token", data={"csrftoken": csrf})
    assert refused.status_code == 404
    await ask(client, world.owner.org_id, ADDRESS)
    await run_jobs(maker, mail_settings)
    path = confirm_path(inbox.messages[0])
    assert (await client.get(path)).status_code == 200
    [req] = (await session.execute(select(DataRequest))).scalars().all()
    assert req.status == "unconfirmed"  # GET changed nothing
    week_ago = datetime.now(UTC) - timedelta(days=privacy.REQUEST_DAYS, minutes=1)
    await session.execute(update(DataRequest).values(created_at=week_ago))
    await session.commit()
    expired = await client.get(path)
    assert expired.status_code == 404
    assert "does not work any more" in html(expired).select_one("h1").get_text()
    assert html(expired).select_one(f'form[action="{path}"]') is None
    assert (await client.post(path, data={"csrftoken": csrf})).status_code == 404


async def test_only_owners_of_the_organisation_see_and_fulfil_requests(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, world: World
) -> None:
    req = await privacy.create_request(
        session, world.owner.org_id, privacy.DataRequestIn(email=ADDRESS, kind="copy")
    )
    await session.execute(update(DataRequest).values(status="confirmed"))
    await session.commit()
    paths = [
        ("GET", f"/privacy/requests/{req.id}/data.json"),
        ("POST", f"/privacy/requests/{req.id}/fulfil"),
        ("POST", f"/privacy/requests/{req.id}/decline"),
    ]
    csrf = await login(client, world.emails["outsider"])
    for method, path in paths:
        data = {"csrftoken": csrf, "method": "done", "reason": "x"} if method == "POST" else None
        response = await client.request(method, path, data=data)
        assert response.status_code == 404, (method, path)
    theirs = html(await client.get("/privacy/requests"))
    assert theirs.select_one(f"#request-{req.id}") is None and ADDRESS not in theirs.get_text()
    for who in ("editor", "viewer"):
        await client.post("/logout", data={"csrftoken": csrf})
        csrf = await login(client, world.emails[who])
        assert (await client.get("/privacy/requests")).status_code == 403
        for method, path in paths:
            data = (
                {"csrftoken": csrf, "method": "done", "reason": "x"} if method == "POST" else None
            )
            response = await client.request(method, path, data=data)
            assert response.status_code == 403, (who, method, path)
    session.expunge_all()
    still = await session.get(DataRequest, req.id)
    assert still is not None and still.status == "confirmed" and still.email == ADDRESS


async def test_declining_needs_a_reason_and_is_recorded(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    req = await privacy.create_request(
        session, world.owner.org_id, privacy.DataRequestIn(email=ADDRESS, kind="erasure")
    )
    await session.execute(update(DataRequest).values(status="confirmed"))
    await session.commit()
    csrf = await login(client, world.emails["owner"])
    path = f"/privacy/requests/{req.id}/decline"
    empty = await client.post(path, data={"csrftoken": csrf, "reason": "  "})
    assert empty.status_code == 422
    row = html(empty).select_one(f"#request-{req.id}")
    assert row.select_one(f"#reason-{req.id}-error").get_text(strip=True)
    reason = "We must keep press accreditation records for the event audit."
    done = await client.post(path, data={"csrftoken": csrf, "reason": reason})
    assert done.status_code == 303
    session.expunge_all()
    closed = await session.get(DataRequest, req.id)
    assert closed is not None and closed.status == "declined" and closed.outcome == reason
    assert closed.email == "" and closed.fulfilled_by_id == world.owner.user_id
    again = await client.post(path, data={"csrftoken": csrf, "reason": reason})
    assert again.status_code == 409


async def test_public_form_needs_its_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        f"/privacy/{world.owner.org_id}/request", data={"email": ADDRESS, "kind": "copy"}
    )
    assert response.status_code == 403


async def test_sending_without_an_smtp_server_says_so() -> None:
    settings = Settings(_env_file=None, smtp_host="")  # type: ignore[call-arg]
    message = new_message(settings, to=ADDRESS, subject="Test", text="Hello")
    with pytest.raises(MailNotConfigured, match="BEATBOOK_SMTP_HOST"):
        await send_mail(settings, message)


async def test_the_request_form_cannot_make_an_organisation_mail_strangers_in_bulk(
    session: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy, "UNCONFIRMED_PER_HOUR", 3)
    for n in range(3):
        await privacy.create_request(
            session, world.owner.org_id,
            privacy.DataRequestIn(email=f"stranger{n}@example.net", kind="copy"),
        )  # fmt: skip
    with pytest.raises(privacy.RequestThrottled):
        await privacy.create_request(
            session, world.owner.org_id,
            privacy.DataRequestIn(email="stranger9@example.net", kind="copy"),
        )  # fmt: skip


async def test_a_journalist_asking_in_albanian_is_answered_in_albanian(
    client: httpx.AsyncClient,
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    inbox: Inbox,
    world: World,
) -> None:
    """The footer's link opens the page in the mail's language; the confirmation mail and the
    confirmation page follow the language the request was made in."""
    await seed(session, world)
    org = world.owner.org_id
    page = await client.get(f"/privacy/{org}/request?lang=sq")
    form = html(page)
    assert form.select_one("html")["lang"] == "sq"
    assert form.select_one(".languages [aria-current]").get_text() == "Shqip"
    assert form.select_one('.languages a[lang="sr-Cyrl"]')["href"].endswith("?lang=sr-Cyrl")
    action = form.select_one("form.request-form")["action"]
    data = {"email": ADDRESS, "kind": "copy", "csrftoken": csrf_of(page.text)}
    sent = await client.post(action, data=data)
    assert sent.status_code == 200 and html(sent).select_one("html")["lang"] == "sq"

    await run_jobs(maker, mail_settings)
    [mail] = inbox.messages
    assert mail["Subject"] == "Konfirmoni kërkesën tuaj drejtuar Qendra për Drejtësi"
    body = text_of(mail)
    assert body.startswith("Përshëndetje,") and "një kopje të të dhënave" in body
    confirm = html(await client.get(confirm_path(mail)))
    assert confirm.select_one("html")["lang"] == "sq"
    assert confirm.select_one("h1").get_text() == "Konfirmoni kërkesën tuaj"
