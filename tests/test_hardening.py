"""Attacks and messy input found in review: each must be refused cleanly, never a 500."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts
from crm.contacts import ContactIn, create_contact
from crm.errors import InvalidInput
from crm.models import Organisation
from crm.settings import Settings
from tests.conftest import PASSWORD, World, csrf_of, login


async def test_invitation_cannot_take_over_an_existing_account(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    # The outsider owns another organisation and invites our owner's address.
    token = await accounts.create_link(
        session, actor=world.outsider, kind="invite", email=world.emails["owner"]
    )
    page = await client.get(f"/invite/{token}")
    assert "already has a Beatbook account" in page.text
    attempt = await client.post(
        f"/invite/{token}",
        data={
            "csrftoken": csrf_of((await client.get("/login")).text),
            "password": "attacker pw 123",
            "password2": "attacker pw 123",
        },
    )
    assert attempt.status_code == 422
    assert await accounts.authenticate(
        session, email=world.emails["owner"], password=PASSWORD, client="t", settings=settings
    )
    # The real owner, logged in, can accept it.
    await login(client, world.emails["owner"])
    page = await client.get(f"/invite/{token}")
    joined = await client.post(f"/invite/{token}/join", data={"csrftoken": csrf_of(page.text)})
    assert joined.status_code == 303
    user = await accounts.user_by_email(session, world.emails["owner"])
    assert user is not None and len(await accounts.memberships(session, user.id or 0)) == 2


async def test_no_reset_link_for_someone_who_belongs_to_another_organisation(
    session: AsyncSession, world: World
) -> None:
    other = await session.get(Organisation, world.outsider.org_id)
    assert other is not None
    await accounts.create_user(
        session, email=world.emails["editor"], password="", org=other, role="viewer"
    )
    await session.commit()
    with pytest.raises(InvalidInput):
        await accounts.create_link(
            session, actor=world.owner, kind="reset", email=world.emails["editor"]
        )


async def test_password_change_revokes_api_tokens(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    token = await accounts.create_api_token(session, actor=world.editor, name="sheet")
    user = await accounts.user_by_email(session, world.emails["editor"])
    assert user is not None
    await accounts.change_password(
        session, user=user, current=PASSWORD, new="another long password", settings=settings
    )
    assert await accounts.actor_for_api_token(session, token) is None


async def test_repeated_fields_nul_bytes_and_absurd_dates_get_clear_answers(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    contact = await create_contact(session, world.editor, ContactIn(given_name="Arta"))
    csrf = await login(client, world.emails["editor"])
    repeated = await client.post(
        "/contacts",
        content=f"csrftoken={csrf}&given_name=Ana&emails=a%40x.org&emails=b%40x.org&tags=a&tags=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 303
    nul = await client.post("/contacts", data={"csrftoken": csrf, "given_name": "X\x00Y"})
    assert nul.status_code == 303
    api_token = await accounts.create_api_token(session, actor=world.editor, name="t")
    api_nul = await client.post(
        "/api/v1/contacts",
        json={"given_name": "X\x00"},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert api_nul.status_code == 422
    future = await client.post(
        f"/contacts/{contact.id}/interactions",
        data={"csrftoken": csrf, "kind": "call", "summary": "x", "occurred_at": "9999-12-31T23:30"},
    )
    assert future.status_code == 422
    assert (await client.get(f"/contacts/{contact.id}")).status_code == 200
    assert (await client.get("/")).status_code == 200
    broken = await client.post(
        "/contacts",
        content=b"csrftoken=" + csrf.encode() + b"&given_name=%ff%fe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code in (303, 400, 422)
    not_utf8 = await client.post(
        "/contacts",
        content=b"given_name=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400


async def test_error_messages_escape_what_the_user_typed(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    response = await client.post(
        "/contacts", data={"csrftoken": csrf, "given_name": "A", "emails": "<i>x</i>@x.org"}
    )
    assert response.status_code == 422
    assert "<i>x</i>" not in response.text
    assert "&lt;i&gt;x&lt;/i&gt;" in response.text


async def test_every_email_is_checked_for_duplicates(session: AsyncSession, world: World) -> None:
    await create_contact(session, world.editor, ContactIn(given_name="Ana", emails=["ana@x.org"]))
    with pytest.raises(InvalidInput):
        await create_contact(
            session,
            world.editor,
            ContactIn(given_name="Zana", emails=["zana@x.org", "ANA@x.org"]),
        )


async def test_typed_input_survives_validation_errors(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    role = await client.post(
        "/contacts",
        data={
            "csrftoken": csrf,
            "given_name": "Ana",
            "roles-0-outlet_id": "",
            "roles-0-title": "Editor",
        },
    )
    assert role.status_code == 422
    assert "Choose an outlet for each role" in role.text
    assert 'value="Editor"' in role.text
    lst = await client.post("/lists", data={"csrftoken": csrf, "name": " ", "description": "Kept"})
    assert lst.status_code == 422 and 'value="Kept"' in lst.text
    beat = await client.post("/beats", data={"csrftoken": csrf, "name": "x" * 121})
    assert beat.status_code == 422 and 'value="' + "x" * 121 + '"' in beat.text


async def test_someone_elsewhere_cannot_lock_a_colleague_out(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures * 2 + 2):
        try:
            await accounts.authenticate(
                session, email=world.emails["editor"], password="guess", client="10.9.9.9",
                settings=settings,
            )  # fmt: skip
        except accounts.LoginThrottled:
            break
    else:
        raise AssertionError("the guessing client was never throttled")
    ok = await accounts.authenticate(
        session, email=world.emails["editor"], password=PASSWORD, client="192.0.2.7",
        settings=settings,
    )  # fmt: skip
    assert ok is not None
