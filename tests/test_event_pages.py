"""Events in the browser's pages and the API: the form, the event's page, the door, the feed,
the journalist's answer page, and an outsider who sees nothing."""

from __future__ import annotations

import httpx
import vobject
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, attendance
from crm.contacts import ContactIn, create_contact
from crm.events import EventIn, cancel_event, create_event
from crm.settings import Settings
from outreach.rsvp import rsvp_token, rsvp_urls
from tests.conftest import World, login
from web.routes.events import feed_token

FORM = {
    "title": "Raporti për lirinë e medias 2026",
    "starts_at": "2026-12-15T11:00",
    "ends_at": "2026-12-15T12:30",
    "timezone": "Europe/Belgrade",
    "venue": "Hotel Sirius",
    "capacity": "40",
    "speakers": "Arta Berisha\nDriton Gashi\n",
}


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


async def _event(session: AsyncSession, world: World, **extra: object):  # type: ignore[no-untyped-def]
    data = {k: v for k, v in FORM.items() if k != "speakers"} | extra
    return await create_event(session, world.editor, EventIn.model_validate(data))


async def test_an_officer_plans_an_event_and_sees_it_in_her_language(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await login(client, world.emails["editor"])
    created = await client.post("/events", data=FORM | {"csrftoken": csrf})
    assert created.status_code == 303
    page = html(await client.get(created.headers["location"]))
    assert page.select_one("h1").get_text(strip=True) == FORM["title"]
    facts = page.select_one("#event-facts").get_text(" ", strip=True)
    assert "15 December 2026, 11:00–12:30" in facts and "Arta Berisha, Driton Gashi" in facts
    listing = html(await client.get("/events"))
    assert FORM["title"] in listing.select_one("#events").get_text()

    # Ends before it starts: a clear message, and nothing typed is lost.
    bad = await client.post(
        "/events", data=FORM | {"ends_at": "2026-12-15T10:00", "csrftoken": csrf}
    )
    assert bad.status_code == 422
    form = html(bad)
    assert "must end after it starts" in form.select_one(".error").get_text()
    assert form.select_one("#f-title")["value"] == FORM["title"]
    assert form.select_one("#f-speakers").get_text() == "Arta Berisha\nDriton Gashi"


async def test_an_outsider_gets_404_for_every_page_of_the_event(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    event = await _event(session, world)
    await login(client, world.emails["outsider"])
    for path in (f"/events/{event.id}", f"/events/{event.id}/door", f"/events/{event.id}/edit"):
        assert (await client.get(path)).status_code == 404, path
    assert FORM["title"] not in (await client.get("/events")).text
    token = await accounts.create_api_token(session, actor=world.outsider, name="t")
    api = await client.get(
        f"/api/v1/events/{event.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 404


async def test_at_the_door_a_name_typed_without_diacritics_is_found_and_ticked(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    event = await _event(session, world)
    for name in ("Dragana Ćosić", "Arbër Krasniqi"):
        await attendance.add_guest(
            session, event, org_id=world.editor.org_id, name=name, address=f"{name[:3]}@x.org"
        )
    await session.commit()
    csrf = await login(client, world.emails["editor"])
    found = await client.get(f"/events/{event.id}/door?q=cosic", headers={"HX-Request": "true"})
    names = [n.get_text() for n in html(found).select("#guests .name")]
    assert names == ["Dragana Ćosić"]
    form = html(found).select_one("#guests form")
    ticked = await client.post(
        form["action"], data={"csrftoken": csrf, "arrived": "1"}, headers={"HX-Request": "true"}
    )
    assert ticked.status_code == 200
    assert "arrived" in html(ticked).select_one("li")["class"]
    walked = await client.post(
        f"/events/{event.id}/walk-in", data={"csrftoken": csrf, "name": "Shpend Gjinovci"}
    )
    assert walked.status_code == 303
    door = html(await client.get(f"/events/{event.id}/door"))
    assert door.select_one("#arrived").get_text() == "2 of 3 arrived"


async def test_the_feed_needs_its_secret_and_holds_the_events(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    await _event(session, world)
    org = world.editor.org_id
    feed = await client.get(f"/events/feed/{org}/{feed_token(settings, org)}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    card = vobject.readOne(feed.text)
    assert [v.summary.value for v in card.vevent_list] == [FORM["title"]]
    assert card.vevent.organizer.params["CN"] == ["Qendra për Drejtësi"]
    assert (await client.get(f"/events/feed/{org}/{'0' * 32}.ics")).status_code == 404
    other = world.outsider.org_id
    assert (
        await client.get(f"/events/feed/{other}/{feed_token(settings, org)}.ics")
    ).status_code == 404


async def test_a_journalist_answers_from_the_link_in_her_language_and_can_change_it(
    client: httpx.AsyncClient, session: AsyncSession, world: World, settings: Settings
) -> None:
    event = await _event(session, world)
    contact = await create_contact(
        session, world.editor,
        ContactIn(given_name="Јелена", family_name="Ђорђевић", emails=["jelena@rts.rs"],
                  preferred_language="sr-Cyrl"),
    )  # fmt: skip
    guest = await attendance.add_guest(
        session, event, org_id=world.editor.org_id, name="Јелена Ђорђевић",
        address="jelena@rts.rs", contact_id=contact.id,
    )  # fmt: skip
    await session.commit()
    urls = rsvp_urls(settings, guest.id)
    yes = urls["rsvp_yes_url"].removeprefix(settings.base_url)

    page = await client.get(yes)  # a link checker fetching it changes nothing
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    assert html(page).select_one("html")["lang"] == "sr-Cyrl"
    await session.refresh(guest)
    assert guest.rsvp == "none"
    token = rsvp_token(settings, guest.id)
    answered = await client.post(f"/rsvp/{token}", data={"answer": "yes"})
    assert answered.status_code == 303
    done = html(await client.get(answered.headers["location"]))
    assert done.select_one("#answer").get_text(strip=True).startswith("Хвала")
    await session.refresh(guest)
    assert (guest.rsvp, guest.rsvp_via) == ("accepted", "link")
    await client.post(f"/rsvp/{token}", data={"answer": "no"})
    await session.refresh(guest)
    assert guest.rsvp == "declined"

    # A forged or cut link answers nothing.
    last = token[-1].upper()
    forged = token[:-1] + ("B" if last == "A" else "A")  # another MAC (tokens ignore case)
    assert (await client.post(f"/rsvp/{forged}", data={"answer": "yes"})).status_code == 404
    assert (await client.get(f"/rsvp/{token[:10]}")).status_code == 404
    assert (await client.post(f"/rsvp/{token}", data={"answer": "always"})).status_code == 422
    await cancel_event(session, world.editor, event.id)
    assert (await client.post(f"/rsvp/{token}", data={"answer": "yes"})).status_code == 409
    await session.refresh(guest)
    assert guest.rsvp == "declined"


async def test_the_api_creates_moves_and_cancels_an_event(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    token = await accounts.create_api_token(session, actor=world.editor, name="t")
    client.headers["Authorization"] = f"Bearer {token}"
    body = {k: v for k, v in FORM.items() if k != "speakers"} | {"speakers": ["Arta Berisha"]}
    made = await client.post("/api/v1/events", json=body)
    assert made.status_code == 201, made.text
    event = made.json()
    assert event["starts_at"] == "2026-12-15T10:00:00+00:00" and event["sequence"] == 0
    moved = await client.put(
        f"/api/v1/events/{event['id']}", json=body | {"starts_at": "2026-12-15T12:00",
                                                      "ends_at": "2026-12-15T13:00"},
    )  # fmt: skip
    assert moved.json()["sequence"] == 1 and moved.json()["calendar_changed"] is True
    bad = await client.post("/api/v1/events", json=body | {"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "timezone"
    cancelled = await client.post(f"/api/v1/events/{event['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["sequence"] == 2


async def test_a_button_on_the_event_starts_a_draft_that_keeps_its_guests_when_edited(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    event = await _event(session, world)
    csrf = await login(client, world.emails["editor"])
    page = html(await client.get(f"/events/{event.id}"))
    actions = {f["action"] for f in page.select(".event-mail form")}
    assert f"/events/{event.id}/draft/invite" in actions
    assert f"/events/{event.id}/draft/cancel" not in actions  # only once cancelled
    made = await client.post(f"/events/{event.id}/draft/remind", data={"csrftoken": csrf})
    assert made.status_code == 303 and made.headers["location"].endswith("/edit")
    form = html(await client.get(made.headers["location"]))
    assert form.select_one("#f-event_id option[selected]")["value"] == str(event.id)
    checked = {i["value"] for i in form.select('input[name="guest_answers"][checked]')}
    assert checked == {"accepted", "tentative"}
    assert "{{ event_start }}" in form.select_one("#f-body_sq").get_text()
    # Saving the form unchanged keeps the event and the guests.
    data: dict[str, object] = {"csrftoken": csrf}
    for field in form.select("input[name], textarea[name], select[name]"):
        name = field["name"]
        if field.name == "textarea":
            data[name] = field.get_text()
        elif field.name == "select":
            chosen = field.select_one("option[selected]")
            data[name] = chosen["value"] if chosen else ""
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data.setdefault(name, []).append(field["value"])  # type: ignore[union-attr]
        elif name != "csrftoken":
            data[name] = field.get("value", "")
    saved = await client.post(made.headers["location"], data=data)
    assert saved.status_code == 303, saved.text[:2000]
    again = html(await client.get(made.headers["location"]))
    assert {i["value"] for i in again.select('input[name="guest_answers"][checked]')} == checked
    assert (
        await client.post(f"/events/{event.id}/draft/party", data={"csrftoken": csrf})
    ).status_code == 404


async def test_the_answer_page_takes_no_file_uploads(client: httpx.AsyncClient) -> None:
    """Exempt from the CSRF check (its signed token is the authority), not from the rule
    that only upload paths take multipart bodies."""
    sent = await client.post("/rsvp/ABCDEFGH", files={"f": ("big.bin", b"x" * 1000)})
    assert sent.status_code == 415
