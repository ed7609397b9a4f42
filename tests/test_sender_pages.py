"""Sender addresses in the settings: owners only, secrets stored encrypted and never shown."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Organisation, SenderIdentity
from crm.settings import Settings
from outreach.senders import account_of
from tests.conftest import World, login

FORM = {
    "from_name": "Qendra për Drejtësi",
    "from_address": "press@qendra.org",
    "smtp_host": "smtp.office365.com",
    "smtp_port": "587",
    "smtp_tls": "starttls",
    "smtp_username": "press@qendra.org",
    "smtp_password": "Tajne-Fjalekalim-2026",
    "per_minute": "30",
    "per_day": "",
}


async def test_an_owner_adds_a_sender_whose_password_is_stored_encrypted(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    csrf = await login(client, world.emails["owner"])
    saved = await client.post("/settings/senders", data={**FORM, "csrftoken": csrf})
    assert saved.status_code == 303, saved.text
    page = await client.get("/settings/senders")
    assert "press@qendra.org" in page.text and "Tajne-Fjalekalim" not in page.text
    sender = (await session.execute(select(SenderIdentity))).scalar_one()
    assert "Tajne" not in sender.smtp_password
    account = account_of(sender, settings)
    assert account.password == "Tajne-Fjalekalim-2026" and account.per_minute == 30
    # Saving again with the password left empty keeps it.
    edit = await client.get(f"/settings/senders/{sender.id}")
    assert "Tajne" not in edit.text
    again = {**FORM, "smtp_password": "", "per_minute": "20", "csrftoken": csrf}
    assert (await client.post(f"/settings/senders/{sender.id}", data=again)).status_code == 303
    await session.refresh(sender)
    assert account_of(sender, settings).password == "Tajne-Fjalekalim-2026"
    assert sender.per_minute == 20


async def test_bad_sender_input_is_a_clear_message(client: httpx.AsyncClient, world: World) -> None:
    csrf = await login(client, world.emails["owner"])
    bad = await client.post(
        "/settings/senders",
        data={**FORM, "from_address": "not an address", "csrftoken": csrf},
    )
    assert bad.status_code == 422
    key = await client.post(
        "/settings/senders",
        data={**FORM, "dkim_selector": "bb", "dkim_key": "-----BEGIN nonsense", "csrftoken": csrf},
    )
    assert key.status_code == 422 and "PEM" in key.text


async def test_editors_cannot_manage_senders_and_outsiders_cannot_see_them(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["owner"])
    await client.post("/settings/senders", data={**FORM, "csrftoken": csrf})
    sender_id = (await session.execute(select(SenderIdentity.id))).scalar_one()
    await client.post("/logout", data={"csrftoken": csrf})
    csrf = await login(client, world.emails["editor"])
    assert (await client.get("/settings/senders")).status_code == 403
    await client.post("/logout", data={"csrftoken": csrf})
    await login(client, world.emails["outsider"])
    assert (await client.get(f"/settings/senders/{sender_id}")).status_code == 404


async def test_the_owner_sets_the_over_pitching_threshold(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["owner"])
    form = {"name": "Qendra për Drejtësi", "default_language": "sq", "csrftoken": csrf}
    assert (
        await client.post("/settings/organisation", data={**form, "pitch_limit": "6"})
    ).status_code == 303
    org = await session.get(Organisation, world.owner.org_id, populate_existing=True)
    assert org.pitch_limit == 6
    refused = await client.post("/settings/organisation", data={**form, "pitch_limit": "many"})
    assert refused.status_code == 422
