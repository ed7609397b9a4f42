"""Web pages: full pages and HTMX fragments, CSRF, roles, and the outsider who sees nothing."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, attendance, coalitions, events, imports, interactions, lists, privacy
from crm.beats import BeatIn, create_beat
from crm.contacts import ContactIn, create_contact
from crm.health import followups
from crm.interactions import InteractionIn
from crm.lists import ListIn
from crm.models import CaughtMessage
from crm.outlets import OutletIn, create_outlet
from crm.settings import Settings
from outreach import campaigns, senders
from outreach.coverage import items as coverage_items
from outreach.coverage import monitor
from tests.conftest import World, csrf_of, login


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def seed(session: AsyncSession, world: World) -> dict[str, int]:
    """One of everything in the owner's organisation."""
    outlet = await create_outlet(
        session, world.editor, OutletIn(name="Radio Drita", medium="radio", languages=["sq"])
    )
    contact = await create_contact(
        session,
        world.editor,
        ContactIn(
            given_name="Arbën",
            family_name="Krasniqi",
            emails=["arben@drita.example"],
            roles=[{"outlet_id": outlet.id, "title": "Reporter"}],  # type: ignore[list-item]
            tags=["key-contact"],
        ),
    )
    item = await interactions.log_interaction(
        session, world.editor, contact.id or 0, InteractionIn(kind="call", summary="Pitched")
    )
    lst = await lists.create_list(session, world.editor, ListIn(name="Radio people"))
    await lists.add_members(session, world.editor, lst.id or 0, [contact.id or 0])
    beat = await create_beat(session, world.editor, BeatIn(name="Water rights"))
    token_id = await _token_id(session, world)
    coalition = await coalitions.create_coalition(session, world.owner, "Clean air")
    batch = await imports.upload(
        session,
        world.editor,
        Settings(_env_file=None, secret_key="s"),  # type: ignore[call-arg]
        filename="people.csv",
        data=b"Name\nBesa Gashi\n",
    )
    request = await privacy.create_request(
        session, world.owner.org_id,
        privacy.DataRequestIn(email="journalist@example.net", kind="erasure"),
    )  # fmt: skip
    request.status = "confirmed"
    session.add(request)
    await session.commit()
    test_settings = Settings(_env_file=None, secret_key="s", suppression_key="k")  # type: ignore[call-arg]
    sender = await senders.create_sender(
        session, world.owner, test_settings,
        senders.SenderIn(from_name="Qendra", from_address="press@qendra.org"),
    )  # fmt: skip
    campaign = await campaigns.create_campaign(
        session, world.editor, campaigns.CampaignIn(
            name="Release", sender_id=sender.id,
            variants={"sq": campaigns.VariantIn(subject="S", body="B")},
        ),
    )  # fmt: skip
    attachment = await campaigns.add_attachment(
        session, world.editor, test_settings, campaign.id or 0,
        filename="r.pdf", content_type="application/pdf", content=b"%PDF-1.4\n",
    )  # fmt: skip
    caught = CaughtMessage(org_id=world.owner.org_id, message_id="<m@qendra.org>", raw=b"x")
    session.add(caught)
    await session.commit()
    event = await events.create_event(
        session, world.editor,
        events.EventIn(title="Konferenca", starts_at="2026-12-15T11:00",
                       ends_at="2026-12-15T12:00"),  # type: ignore[arg-type]
    )  # fmt: skip
    guest = await attendance.add_guest(
        session, event, org_id=world.editor.org_id, name="Besa", address="besa@rtk.live"
    )
    await session.commit()
    coverage = await coverage_items.create_coverage(
        session, world.editor,
        coverage_items.CoverageIn(headline="Raporti", published_on=date(2026, 11, 20),
                                  outlet_id=outlet.id),
    )  # fmt: skip
    feed = await monitor.add_feed(session, world.editor, outlet.id or 0, "https://koha.net/feed")
    follow_up = await followups.create_follow_up(
        session, world.editor,
        followups.FollowUpIn(contact_id=contact.id or 0, title="Call", due_on=date(2026, 12, 1)),
    )  # fmt: skip
    return {
        "follow_up_id": follow_up.id or 0,
        "item_id": coverage.id or 0,
        "feed_id": feed.id or 0,
        "org_id": world.owner.org_id,  # the events feed's: without its secret, 404
        "event_id": event.id or 0,
        "guest_id": guest.id or 0,
        "contact_id": contact.id or 0,
        "outlet_id": outlet.id or 0,
        "interaction_id": item.id or 0,
        "list_id": lst.id or 0,
        "beat_id": beat.id or 0,
        "token_id": token_id,
        "user_id": world.editor.user_id or 0,
        "coalition_id": coalition.id or 0,
        "batch_id": batch.id or 0,
        "request_id": request.id or 0,
        "sender_id": sender.id or 0,
        "campaign_id": campaign.id or 0,
        "attachment_id": attachment.id or 0,
        "message_id": caught.id or 0,
    }


async def _token_id(session: AsyncSession, world: World) -> int:
    await accounts.create_api_token(session, actor=world.editor, name="sheet")
    tokens = await accounts.list_api_tokens(session, actor=world.editor)
    return tokens[0].id or 0


def valid_api_body(path: str, ids: dict[str, int]) -> dict[str, Any]:
    """A body the API would accept, so that only the id decides the answer."""
    if path.endswith("/members"):
        return {"contact_ids": [ids["contact_id"]]}
    if path.endswith(("/launch", "/test")):
        return {}
    if path.endswith("/unknown"):
        return {"delivery_ids": [1], "outcome": "sent"}
    if path.startswith("/api/v1/events"):
        return {"title": "x", "starts_at": "2026-12-15T11:00", "ends_at": "2026-12-15T12:00"}
    if path.startswith("/api/v1/coverage"):
        return {"headline": "x", "published_on": "2026-11-20"}
    if path.startswith("/api/v1/senders"):
        return {"from_name": "x", "from_address": "x@example.org"}
    for prefix, body in (
        ("/api/v1/contacts", {"given_name": "x"}),
        ("/api/v1/outlets", {"name": "x", "medium": "tv"}),
        ("/api/v1/interactions", {"kind": "call", "summary": "x"}),
    ):
        if path.startswith(prefix):
            return body
    return {"name": "x"}


def routes_with_ids(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the app that takes an id, walking included routers."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                path = prefix + route.path
                if re.search(r"\{\w+_id\}", path):
                    found.extend((m, path) for m in sorted(route.methods))
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(app.routes, "")
    return found


async def test_outsider_gets_404_on_every_route_that_takes_an_id(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    token = await accounts.create_api_token(session, actor=world.outsider, name="outsider")
    csrf = await login(client, world.emails["outsider"])
    routes = routes_with_ids(app)
    assert len(routes) > 30
    for method, path in routes:
        url = re.sub(r"\{(\w+_id)\}", lambda m: str(ids[m.group(1)]), path)
        url = url.replace("{action}", "pause").replace("{number}", "1")
        headers = {"x-csrftoken": csrf}
        if url.startswith("/api/"):
            headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {}
        if url.startswith("/api/") and method in ("POST", "PUT", "PATCH"):
            body = {"json": valid_api_body(path, ids)}
        elif method == "POST":
            body = {"data": {"name": "x", "csrftoken": csrf, "list_id": ids["list_id"]}}
        response = await client.request(method, url, headers=headers, **body)
        assert response.status_code == 404, f"{method} {url}: {response.status_code}"


async def test_owner_sees_what_the_outsider_cannot(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    await login(client, world.emails["viewer"])
    page = await client.get(f"/contacts/{ids['contact_id']}")
    assert page.status_code == 200
    assert html(page).select_one("h1").get_text(strip=True).startswith("Arbën Krasniqi")
    assert "Pitched" in html(page).select_one("#timeline").get_text()


async def test_post_without_csrf_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await login(client, world.emails["editor"])
    response = await client.post("/contacts", data={"given_name": "Besa"})
    assert response.status_code == 403
    response = await client.post(
        "/contacts", data={"given_name": "Besa", "csrftoken": "forged-token"}
    )
    assert response.status_code == 403
    listing = await client.get("/contacts?q=besa")
    assert "No contacts match" in listing.text


async def test_login_form_needs_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": world.emails["editor"], "password": "correct horse battery"}
    )
    assert response.status_code == 403


async def test_viewer_cannot_change_anything(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    csrf = await login(client, world.emails["viewer"])
    contact_page = html(await client.get(f"/contacts/{ids['contact_id']}"))
    assert contact_page.select_one("form.log-form") is None
    assert contact_page.find("a", string=re.compile("Edit")) is None
    attempts = [
        ("/contacts", {"given_name": "Besa"}),
        (f"/contacts/{ids['contact_id']}", {"given_name": "Changed"}),
        (f"/contacts/{ids['contact_id']}/interactions", {"kind": "call", "summary": "x"}),
        (f"/contacts/{ids['contact_id']}/delete", {}),
        ("/outlets", {"name": "New", "medium": "tv"}),
        ("/beats", {"name": "New beat"}),
        ("/lists", {"name": "New list"}),
    ]
    for url, data in attempts:
        response = await client.post(url, data={**data, "csrftoken": csrf})
        assert response.status_code == 403, url
    page = await client.get(f"/contacts/{ids['contact_id']}")
    assert "Arbën Krasniqi" in page.text
    assert page.text.count("Pitched") == 1


async def test_contacts_search_answers_a_fragment_to_htmx_and_a_page_otherwise(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    await login(client, world.emails["editor"])
    full = await client.get("/contacts?q=krasniqi")
    assert html(full).select_one("html") is not None
    assert html(full).select_one("#filters") is not None
    fragment = await client.get("/contacts?q=krasniqi", headers={"HX-Request": "true"})
    soup = html(fragment)
    assert soup.select_one("html") is None
    assert soup.select_one("section#results") is not None
    assert [a.get_text() for a in soup.select("#results tbody td:first-child a")] == [
        "Arbën Krasniqi"
    ]
    assert fragment.headers["Vary"].startswith("HX-Request")
    empty = await client.get("/contacts?q=zzzz", headers={"HX-Request": "true"})
    assert "No contacts match" in empty.text


async def test_contacts_filters_by_outlet_tag_and_do_not_contact(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    await create_contact(
        session,
        world.editor,
        ContactIn(given_name="Vesna", family_name="Petrović", do_not_contact=True),
    )
    await login(client, world.emails["editor"])

    async def names(query: str) -> list[str]:
        page = await client.get(f"/contacts?{query}", headers={"HX-Request": "true"})
        return [a.get_text() for a in html(page).select("#results tbody td:first-child a")]

    assert await names(f"outlet={ids['outlet_id']}") == ["Arbën Krasniqi"]
    assert await names("tag=key-contact") == ["Arbën Krasniqi"]
    assert await names("dnc=yes") == ["Vesna Petrović"]
    assert await names("medium=radio") == ["Arbën Krasniqi"]
    assert await names("sort=-name") == ["Vesna Petrović", "Arbën Krasniqi"]
    assert await names("beat=notanumber") == ["Arbën Krasniqi", "Vesna Petrović"]


async def test_create_contact_form_shows_field_errors_and_keeps_input(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    csrf = await login(client, world.emails["editor"])
    response = await client.post(
        "/contacts",
        data={
            "csrftoken": csrf,
            "given_name": "",
            "family_name": "Berisha",
            "emails": "not-an-email",
            "notes": "Met at the EU info day",
        },
    )
    assert response.status_code == 422
    soup = html(response)
    assert soup.select_one("#given_name-error").get_text() == "This field is required."
    assert soup.select_one("textarea[name=notes]").get_text() == "Met at the EU info day"
    assert soup.select_one("input[name=family_name]")["value"] == "Berisha"

    duplicate = await client.post(
        "/contacts",
        data={"csrftoken": csrf, "given_name": "Arben", "emails": "ARBEN@drita.example "},
    )
    assert duplicate.status_code == 422
    error = html(duplicate).select_one("#emails-error")
    assert "already belongs to another contact" in error.get_text()
    assert error.select_one("a")["href"] == f"/contacts/{ids['contact_id']}"

    overlong = await client.post("/contacts", data={"csrftoken": csrf, "given_name": "A" * 101})
    assert overlong.status_code == 422
    assert "at most 100" in html(overlong).select_one("#given_name-error").get_text()
    listing = await client.get("/contacts", headers={"HX-Request": "true"})
    assert "Berisha" not in listing.text


async def test_create_and_edit_contact_through_the_form(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    csrf = await login(client, world.emails["editor"])
    created = await client.post(
        "/contacts",
        data={
            "csrftoken": csrf,
            "given_name": "Drita",
            "family_name": "Morina",
            "emails": "drita@koha.example\ndrita.morina@posta.example",
            "phones": "+383 44 123 456",
            "salutation": "f",
            "preferred_language": "sq",
            "languages": ["sq", "en"],
            "roles-0-outlet_id": str(ids["outlet_id"]),
            "roles-0-title": "Editor",
            "tags": "investigative, tv-guest",
        },
    )
    assert created.status_code == 303
    page = html(await client.get(created.headers["location"]))
    assert page.select_one("h1").get_text(strip=True) == "Drita Morina"
    assert "Radio Drita" in page.select_one(".profile").get_text()
    contact_id = created.headers["location"].rsplit("/", 1)[1]
    edit = html(await client.get(f"/contacts/{contact_id}/edit"))
    assert edit.select_one("textarea[name=emails]").get_text().splitlines() == [
        "drita@koha.example",
        "drita.morina@posta.example",
    ]
    updated = await client.post(
        f"/contacts/{contact_id}",
        data={"csrftoken": csrf, "given_name": "Drita", "family_name": "Morina-Gashi"},
    )
    assert updated.status_code == 303
    assert "Morina-Gashi" in (await client.get(f"/contacts/{contact_id}")).text


async def test_logging_a_call_with_htmx_returns_the_updated_timeline(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    csrf = await login(client, world.emails["editor"])
    url = f"/contacts/{ids['contact_id']}/interactions"
    response = await client.post(
        url,
        data={"kind": "call", "summary": "Asked about the air report", "occurred_at": ""},
        headers={"HX-Request": "true", "x-csrftoken": csrf},
    )
    assert response.status_code == 200
    soup = html(response)
    assert soup.select_one("section#timeline") is not None
    assert soup.select_one("html") is None
    first = soup.select("ol.timeline li")[0]
    assert "Asked about the air report" in first.get_text()
    empty = await client.post(
        url,
        data={"kind": "call", "summary": " "},
        headers={"HX-Request": "true", "x-csrftoken": csrf},
    )
    assert empty.status_code == 422
    assert html(empty).select_one("#summary-error") is not None


@pytest.mark.parametrize("path", ["/", "/contacts", "/outlets", "/lists", "/beats", "/settings"])
async def test_main_pages_render_for_an_editor(
    client: httpx.AsyncClient, session: AsyncSession, world: World, path: str
) -> None:
    await seed(session, world)
    await login(client, world.emails["editor"])
    response = await client.get(path)
    assert response.status_code == 200
    soup = html(response)
    for field in soup.select("input:not([type=hidden]), select, textarea"):
        field_id = field.get("id")
        labelled = field.find_parent("label") or (
            field_id and soup.select_one(f"label[for='{field_id}']")
        )
        assert labelled, f"unlabelled {field}"


async def test_security_headers_and_cookie_flags(client: httpx.AsyncClient, world: World) -> None:
    page = await client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    response = await client.post(
        "/login",
        data={
            "email": world.emails["editor"],
            "password": "correct horse battery",
            "csrftoken": csrf_of(page.text),
        },
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie


async def test_pages_need_a_login(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/contacts")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/contacts"
    htmx = await client.get("/contacts", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/login?next=/contacts"
    api = await client.get("/api/v1/contacts")
    assert api.status_code == 401


async def test_logged_time_is_read_as_kosovo_time(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = await seed(session, world)
    csrf = await login(client, world.emails["editor"])
    await client.post(
        f"/contacts/{ids['contact_id']}/interactions",
        data={
            "csrftoken": csrf,
            "kind": "meeting",
            "summary": "Lunch",
            "occurred_at": "2026-07-01T13:30",
        },
    )
    timeline = await interactions.timeline(session, world.editor, ids["contact_id"])
    lunch = next(item for item, _ in timeline if item.summary == "Lunch")
    assert lunch.occurred_at.isoformat() == "2026-07-01T11:30:00+00:00"
    page = await client.get(f"/contacts/{ids['contact_id']}")
    assert "01/07/2026 13:30" in page.text  # an English-speaking user


async def test_ids_out_of_range_or_not_numbers_are_rejected_not_crashing(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, world.emails["editor"])
    for url in ("/contacts/99999999999999999999", "/contacts/abc", "/outlets/0", "/lists/-1"):
        response = await client.get(url)
        assert response.status_code in (404, 422), url


async def test_saving_a_search_as_a_smart_list_keeps_the_search_typed_so_far(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await seed(session, world)
    await create_contact(session, world.editor, ContactIn(given_name="Vesna", family_name="Ilić"))
    csrf = await login(client, world.emails["editor"])
    fragment = html(await client.get("/contacts?q=krasniqi", headers={"HX-Request": "true"}))
    save_form = fragment.select_one("details.save-search form[action='/lists']")
    fields = {i["name"]: i.get("value", "") for i in save_form.select("input[type=hidden]")}
    assert fields["q"] == "krasniqi"
    fields.update(csrftoken=csrf, name="Krasniqi family", kind="smart")
    created = await client.post("/lists", data=fields)
    assert created.status_code == 303
    members = html(await client.get(created.headers["location"]))
    assert [a.get_text() for a in members.select("#members tbody td:first-child a")] == [
        "Arbën Krasniqi"
    ]
