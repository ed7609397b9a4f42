"""Logins, throttling, sessions, invitations, resets, tokens and coalitions."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, coalitions
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.settings import Settings
from tests.conftest import PASSWORD, World, csrf_of, login


async def test_each_login_gets_a_new_session_id_and_logout_ends_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, world.emails["editor"])
    first = client.cookies.get("beatbook_session")
    csrf = csrf_of((await client.get("/settings")).text)
    await client.post("/logout", data={"csrftoken": csrf})
    assert (await client.get("/contacts")).status_code == 303
    await login(client, world.emails["editor"])
    second = client.cookies.get("beatbook_session")
    assert first and second and first != second
    # The old cookie no longer opens anything.
    client.cookies.set("beatbook_session", first)
    assert (await client.get("/contacts")).status_code == 303


async def test_wrong_password_is_refused_and_repeated_failures_get_429(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    page = await client.get("/login")
    csrf = csrf_of(page.text)
    statuses = []
    for _ in range(settings.login_max_failures * 2 + 1):
        response = await client.post(
            "/login",
            data={"email": world.emails["editor"], "password": "wrong", "csrftoken": csrf},
        )
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429
    # Even the right password waits out the lock.
    right = await client.post(
        "/login", data={"email": world.emails["editor"], "password": PASSWORD, "csrftoken": csrf}
    )
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0


async def test_login_delay_grows_with_failures(session: AsyncSession, world: World) -> None:
    import time

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key="x",
        login_delay_step=0.05,
        login_max_failures=50,
    )
    timings = []
    for _ in range(4):
        start = time.perf_counter()
        result = await accounts.authenticate(
            session, email=world.emails["viewer"], password="nope", client="c", settings=settings
        )
        assert result is None
        timings.append(time.perf_counter() - start)
    assert timings[3] > timings[0] + 0.1


async def test_secure_cookie_when_base_url_is_https(settings: Settings, world: World) -> None:
    from web.app import create_app

    secure = settings.model_copy(update={"base_url": "https://beatbook.example.org"})
    app = create_app(secure, run_jobs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        page = await c.get("/login")
        response = await c.post(
            "/login",
            data={
                "email": world.emails["editor"],
                "password": PASSWORD,
                "csrftoken": csrf_of(page.text),
            },
        )
        assert "Secure" in response.headers["set-cookie"]
    await app.state.engine.dispose()


async def test_owner_invites_a_colleague_who_joins_with_the_link(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["owner"])
    response = await client.post(
        "/settings/invitations",
        data={"csrftoken": csrf, "email": "new.colleague@example.org", "role": "viewer"},
    )
    assert response.status_code == 200
    link = response.text.split("/invite/")[1].split("<")[0]
    client.cookies.clear()
    page = await client.get(f"/invite/{link}")
    assert "new.colleague@example.org" in page.text
    short = await client.post(
        f"/invite/{link}",
        data={"csrftoken": csrf_of(page.text), "password": "short", "password2": "short"},
    )
    assert short.status_code == 422
    joined = await client.post(
        f"/invite/{link}",
        data={
            "csrftoken": csrf_of(page.text),
            "password": "a long new password",
            "password2": "a long new password",
            "name": "Teuta",
        },
    )
    assert joined.status_code == 303
    assert (await client.get("/contacts")).status_code == 200
    # The link works once.
    again = await client.get(f"/invite/{link}")
    assert again.status_code == 404


async def test_editor_cannot_invite_or_make_reset_links(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    response = await client.post(
        "/settings/invitations", data={"csrftoken": csrf, "email": "x@example.org"}
    )
    assert response.status_code == 403


async def test_reset_link_sets_a_new_password_and_ends_other_sessions(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    token = await accounts.create_link(
        session, actor=world.owner, kind="reset", email=world.emails["editor"]
    )
    user = await accounts.user_by_email(session, world.emails["editor"])
    assert user is not None
    old_session = await accounts.start_session(session, user=user, settings=settings)
    await accounts.use_link(session, token=token, kind="reset", password="brand new password")
    assert await accounts.session_context(session, old_session) is None
    ok = await accounts.authenticate(
        session,
        email=world.emails["editor"],
        password="brand new password",
        client="t",
        settings=settings,
    )
    assert ok is not None
    with pytest.raises(NotFound):
        await accounts.use_link(session, token=token, kind="reset", password="another password")


async def test_reset_link_only_for_members(session: AsyncSession, world: World) -> None:
    with pytest.raises(InvalidInput):
        await accounts.create_link(
            session, actor=world.owner, kind="reset", email=world.emails["outsider"]
        )


async def test_user_changes_password_and_language(client: httpx.AsyncClient, world: World) -> None:
    csrf = await login(client, world.emails["editor"])
    wrong = await client.post(
        "/settings/password",
        data={
            "csrftoken": csrf,
            "current_password": "nope",
            "new_password": "a different password",
            "new_password2": "a different password",
        },
    )
    assert wrong.status_code == 422
    assert "not your current password" in wrong.text
    changed = await client.post(
        "/settings/password",
        data={
            "csrftoken": csrf,
            "current_password": PASSWORD,
            "new_password": "a different password",
            "new_password2": "a different password",
        },
    )
    assert changed.status_code == 303
    await login(client, world.emails["editor"], "a different password")
    csrf = csrf_of((await client.get("/settings")).text)
    lang = await client.post("/settings/language", data={"csrftoken": csrf, "language": "sq"})
    assert lang.status_code == 303
    bad = await client.post("/settings/language", data={"csrftoken": csrf, "language": "xx"})
    assert bad.status_code == 422


async def test_api_token_create_use_and_revoke(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    page = await client.post("/settings/tokens", data={"csrftoken": csrf, "name": "sheet"})
    token = page.text.split('<pre class="token">')[1].split("<")[0]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/contacts", headers=headers)).status_code == 200
    tokens = await accounts.list_api_tokens(session, actor=world.editor)
    await accounts.revoke_api_token(session, actor=world.editor, token_id=tokens[0].id or 0)
    assert (await client.get("/api/v1/contacts", headers=headers)).status_code == 401
    bad = {"Authorization": "Bearer bb_not-a-token"}
    assert (await client.get("/api/v1/contacts", headers=bad)).status_code == 401


async def test_coalition_invitation_accept_and_members(session: AsyncSession, world: World) -> None:
    coalition = await coalitions.create_coalition(session, world.owner, "Clean Air Coalition")
    await coalitions.invite_org(session, world.owner, coalition.id or 0, "Other Org")
    invited = await coalitions.my_coalitions(session, world.outsider)
    assert [(v.coalition.name, v.my_status) for v in invited] == [
        ("Clean Air Coalition", "invited")
    ]
    await coalitions.respond(session, world.outsider, coalition.id or 0, accept=True)
    views = await coalitions.my_coalitions(session, world.owner)
    assert sorted(o.name for o, status in views[0].members if status == "accepted") == [
        "Other Org",
        "Qendra për Drejtësi",
    ]
    with pytest.raises(PermissionDenied):
        await coalitions.create_coalition(session, world.editor, "Not allowed")
    with pytest.raises(InvalidInput):
        await coalitions.invite_org(session, world.owner, coalition.id or 0, "No Such Org")


async def test_declined_coalition_is_not_listed(session: AsyncSession, world: World) -> None:
    coalition = await coalitions.create_coalition(session, world.owner, "Media Freedom Network")
    await coalitions.invite_org(session, world.owner, coalition.id or 0, "Other Org")
    await coalitions.respond(session, world.outsider, coalition.id or 0, accept=False)
    assert await coalitions.my_coalitions(session, world.outsider) == []


async def test_last_owner_cannot_be_demoted(session: AsyncSession, world: World) -> None:
    with pytest.raises(InvalidInput):
        await accounts.set_role(
            session, actor=world.owner, user_id=world.owner.user_id or 0, role="editor"
        )
